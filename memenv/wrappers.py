"""Wrapped memory envs: :func:`fork` copies a whole wrapper stack (Gymnasium or PettingZoo) at its current state,
and :class:`RecordTrajectory` writes every step of every episode as JSON lines.

``memr2 eval --save-trajectories FILE.jsonl`` uses :class:`RecordTrajectory`; both work on any env from
``gymnasium.make`` and on :func:`memenv.multiagent.env`.
"""

from __future__ import annotations

import copy
import json
from typing import IO, Any

import gymnasium as gym
from pydantic import BaseModel

from memenv.actions import ParseError, coerce_action
from memenv.env import MemoryEnv


def _core(env: Any) -> MemoryEnv:
    """The :class:`MemoryEnv` at the bottom of a Gymnasium or PettingZoo wrapper stack."""
    if isinstance(env, MemoryEnv):
        return env
    bottom = getattr(env, "unwrapped", None)
    for candidate in (bottom, getattr(bottom, "core", None)):  # gymnasium; memenv.multiagent.raw_env
        if isinstance(candidate, MemoryEnv):
            return candidate
    raise TypeError(f"fork needs a memenv env, a Gymnasium wrapper of one or memenv.multiagent's AEC env, "
                    f"got {type(env).__name__}")


def fork(env: Any) -> Any:
    """An independent copy of ``env`` at its current state, wrappers included.

    ``env.unwrapped.clone()`` forks only the bare env: ``gymnasium.make``'s wrappers (order enforcing, the env
    checker, a time limit) and your own are gone. ``fork`` keeps them: the memory env at the bottom is forked
    with :meth:`MemoryEnv.clone` (O(1) in bank size), and every wrapper above it is deep-copied around the clone,
    so wrapper state (a ``TimeLimit`` step count, ``RecordEpisodeStatistics`` sums, the AEC env's rewards and
    agent selection) continues from where the original is, independently of it. Spaces are shared, as
    ``clone`` shares them. A wrapper holding something that cannot be copied (an open file) raises
    ``TypeError``.

    >>> import gymnasium as gym, memenv
    >>> env = gym.wrappers.TimeLimit(gym.make("MemoryR2/Synthetic-v0", max_sessions=2), max_episode_steps=3)
    >>> _ = env.reset(seed=0)
    >>> child = fork(env)
    >>> type(child).__name__, child.unwrapped is not env.unwrapped, child.unwrapped.bank is env.unwrapped.bank
    ('TimeLimit', True, True)
    """
    core = _core(env)
    if env is core:
        return core.clone()
    memo: dict[int, Any] = {id(core): core.clone()}
    memo.update({id(space): space for space in (core.observation_space, core.action_space)})
    try:
        return copy.deepcopy(env, memo)
    except TypeError as exc:
        raise TypeError(f"cannot fork {env}: a wrapper holds something that cannot be copied ({exc})") from exc


def _jsonable(action: Any) -> Any:
    """An agent's action as JSON: text and dicts as given, action objects as their JSON dict."""
    return action.model_dump(mode="json") if isinstance(action, BaseModel) else action


class RecordTrajectory(gym.Wrapper):
    """Write one JSON object per step to ``stream`` (an open text file), so a run can be inspected afterwards.

    Each line has ``episode`` (0-based count of resets), ``seed``, ``conversation_id``, ``step``, ``role``,
    ``session``, ``chunk``, ``view`` (what the agent saw), ``action`` (what it returned, as given: raw text, a
    dict, or an action object's JSON), ``parsed`` (the action the env read from it, or null when unreadable),
    ``error`` (``info["error"]`` or null), ``reward`` and ``terminated``. The terminal step adds ``metrics``.
    The caller owns ``stream`` (opens and closes it).

    >>> import io, gymnasium as gym, memenv
    >>> out = io.StringIO()
    >>> env = RecordTrajectory(gym.make("MemoryR2/Synthetic-v0", max_sessions=1), out)
    >>> _ = env.reset(seed=0)
    >>> _ = env.step("- nothing to remember")
    >>> record = json.loads(out.getvalue())
    >>> record["role"], record["action"], record["parsed"]["facts"][0]["fact"], record["error"]
    ('extractor', '- nothing to remember', 'nothing to remember', None)
    """

    def __init__(self, env: gym.Env, stream: IO[str]) -> None:
        super().__init__(env)
        self.stream = stream
        self.episode = -1
        self._seed: int | None = None
        self._info: dict[str, Any] = {}
        self._step = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self.episode, self._seed, self._info, self._step = self.episode + 1, seed, info, 0
        return observation, info

    def step(self, action: Any):
        before = self._info
        observation, reward, terminated, truncated, info = self.env.step(action)
        parsed = coerce_action(before["role"], action)
        record = {
            "episode": self.episode,
            "seed": self._seed,
            "conversation_id": self.env.unwrapped.conversation.conversation_id,
            "step": self._step,
            "role": before["role"],
            "session": before["session"],
            "chunk": before["chunk"],
            "view": before["view"].model_dump(mode="json"),
            "action": _jsonable(action),
            "parsed": None if isinstance(parsed, ParseError) else parsed.model_dump(mode="json"),
            "error": info.get("error"),
            "reward": reward,
            "terminated": terminated,
        }
        if terminated and "metrics" in info:
            record["metrics"] = info["metrics"]
        self.stream.write(json.dumps(record, default=str) + "\n")
        self._info, self._step = info, self._step + 1
        return observation, reward, terminated, truncated, info
