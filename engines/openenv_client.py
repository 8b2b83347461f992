"""The client side of :mod:`engines.openenv_server`: an OpenEnv ``EnvClient`` for memenv, its fork call, and a
loop that plays any memory-r2 agent (:class:`agents.base.MemoryAgent`) through it.

>>> # with a server running:  python -m engines.openenv_server --max-sessions 2
>>> # with MemoryEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
>>> #     result = env.reset(seed=0)
>>> #     result = env.step(MemoryAction(text="- Ann lives in Rome"))
"""

from __future__ import annotations

import json
from typing import Any

from engines import require

require("openenv.core", "openenv")

import httpx  # noqa: E402
from openenv.core import EnvClient  # noqa: E402
from openenv.core.client_types import StepResult  # noqa: E402

from engines.openenv_models import MemoryAction, MemoryObservation, MemoryState  # noqa: E402
from memenv.actions import ExtractAction, ManageAction  # noqa: E402


class MemoryEnvClient(EnvClient[MemoryAction, MemoryObservation, MemoryState]):
    """One WebSocket session on a memenv OpenEnv server (``async``; ``.sync()`` for a synchronous wrapper).

    ``reset(seed=..., episode_id=..., options=...)`` starts an episode; ``reset(fork_id=...)`` continues a fork
    (:meth:`fork`), ``reset(state=...)`` a saved state (:meth:`full_state`)."""

    def _step_payload(self, action: MemoryAction) -> dict[str, Any]:
        return action.model_dump(mode="json", exclude_none=True, exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[MemoryObservation]:
        observation = MemoryObservation.model_validate(
            {**payload.get("observation", {}), "reward": payload.get("reward"), "done": payload.get("done", False)})
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> MemoryState:
        return MemoryState.model_validate(payload)


def http_url(base_url: str) -> str:
    """The server's HTTP address (the client may have been given a ws:// one)."""
    return base_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rstrip("/")


def fork_session(base_url: str, episode_id: str, timeout: float = 30.0) -> str:
    """Snapshot the live session ``episode_id`` on the server; ``reset(fork_id=<answer>)`` continues it."""
    response = httpx.post(f"{http_url(base_url)}/memenv/sessions/{episode_id}/fork", timeout=timeout)
    response.raise_for_status()
    return response.json()["fork_id"]


def full_state(base_url: str, episode_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The live session's :class:`memenv.state.EnvState` as JSON (``reset(state=...)`` restores it)."""
    response = httpx.get(f"{http_url(base_url)}/memenv/sessions/{episode_id}/state", timeout=timeout)
    response.raise_for_status()
    return response.json()


def to_action(output: Any, role: str) -> MemoryAction:
    """What a memory-r2 agent's ``act`` returned in ``role``'s turn (text, an action object or a plain dict) as a
    wire action. A dict without ``role`` (the oracle's gold) is read for ``role``, as ``MemoryEnv.step`` reads it;
    one that is no structured action (Mem0-style JSON) goes as its JSON text, which the env parses as in-process."""
    if isinstance(output, str):
        return MemoryAction(text=output)
    if isinstance(output, (ExtractAction, ManageAction)):
        return MemoryAction(action=output)
    if isinstance(output, dict):
        try:
            return MemoryAction(action={"role": role, **output})
        except ValueError:  # pydantic's ValidationError
            return MemoryAction(text=json.dumps(output))
    raise ValueError(f"an agent returned {type(output).__name__}; expected text, an action object or a dict")


def agent_inputs(observation: MemoryObservation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``(observation, info)`` an in-process agent would get (gold only if the server serves it)."""
    info: dict[str, Any] = {"role": observation.role, "session": observation.session, "view": observation.view}
    if observation.gold is not None:
        info["gold"] = observation.gold
    return {"text": observation.text}, info


def play(env: Any, agent: Any, first: StepResult[MemoryObservation], until_session: int | None = None
         ) -> tuple[StepResult[MemoryObservation], float]:
    """Let ``agent`` act on a synchronous client from ``first`` until the episode ends (or, with
    ``until_session``, until that 1-based session's first step); returns the last result and the rewards' sum."""
    result, total = first, 0.0
    while not result.done:
        observation = result.observation
        if until_session is not None and observation.session >= until_session and observation.role == "extractor":
            break
        result = env.step(to_action(agent.act(*agent_inputs(observation)), observation.role))
        total += result.reward or 0.0
    return result, total
