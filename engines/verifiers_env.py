"""memenv as a verifiers environment (verifiers 0.4, ``verifiers.v1``): a taskset and an env for Synthetic-v1 and
LoCoMo-v0, evaluable with verifiers' own ``vf-eval`` against any OpenAI-compatible endpoint:

    vf-eval memory-r2 --taskset.env-id MemoryR2/Synthetic-v1 --taskset.max-sessions 2 \\
        --taskset.episodes 8 -m <model> --client.base-url http://127.0.0.1:8000/v1 --no-push

A task is one episode (a seed; on LoCoMo one conversation, as ``memr2 eval`` plans them). The env plays it: every
step whose role the LLM plays is its own model turn with a fresh context (the agent's system prompt and the view,
as the memr2 LLM agent sends them, or the view's JSON with ``view_format="json"``), one verifiers interaction each,
so each step is a separate trace: a separate training sample for prime-rl. At the episode's end every trace gets
the env's score as its reward (``memenv_score``; ``reward="return"`` gives the return: score minus compression
penalty plus invalid-action penalties), and metrics (return, invalid actions, bank size).

**Local groups.** ``branch_sessions: [k, ...]`` adds, per episode, a task that starts at session k's start: the
``trunk`` agent (a scripted memory-r2 agent, default ``reference``) plays sessions before k and after k, the LLM
plays session k only, and the reward is the final score. The trunk state is computed once per process and forked
(``memenv.fork``, O(1)) for every rollout, so verifiers' group of ``-r`` rollouts of that task is a local group:
rerollouts of one session from one state. A global group is ``-r`` rollouts of a plain task.

The roles: ``llm_roles="both"`` (the LLM extracts and manages, as ``memr2 eval --agent llm``) or ``"manager"``
(the reference agent's rule extractor extracts: docs/llm-training.md's regime). Gold never reaches the LLM.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import json
from typing import Any, Literal

from engines import require

require("verifiers.v1", "verifiers")

import verifiers.v1 as vf  # noqa: E402
from pydantic import Field  # noqa: E402

from agents.llm.prompts import system_prompt, user_message  # noqa: E402
from agents.reference import extract  # noqa: E402
from memenv.compact import parse_compact  # noqa: E402
from memenv.views import ExtractorView, view_text  # noqa: E402
from memenv.wrappers import fork  # noqa: E402

__all__ = ["MemoryTaskset", "MemoryR2Env"]

_OUTCOME: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("memenv_outcome")


class MemoryTasksetConfig(vf.TasksetConfig):
    """Which env, its horizon and arguments, which episodes, how the LLM is prompted, and the branch tasks."""

    env_id: str = "MemoryR2/Synthetic-v1"
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    max_sessions: int | None = 2
    seed: int = 0
    """The first episode's seed; episode i uses seed + i (as ``memr2 eval --seed``)."""
    episodes: int | None = None
    """Episodes (default: every conversation of LoCoMo, 1 elsewhere)."""
    conversations: list[str] = Field(default_factory=list)
    """LoCoMo: these conversations (default: every one)."""
    llm_roles: Literal["both", "manager"] = "both"
    view_format: Literal["text", "json"] = "text"
    """``text``: the memr2 LLM agent's user message; ``json``: the view's canonical JSON (the env's observation)."""
    fmt: Literal["lines", "json"] = "lines"
    action_format: Literal["line", "compact"] = "line"
    prompt_style: Literal["fewshot", "terse"] = "terse"
    branch_sessions: list[int] = Field(default_factory=list)
    """Session-start branch tasks (local groups): sessions k >= 2 whose start is forked."""
    trunk: str = "reference"
    """The scripted agent that plays around a branch task's session."""
    reward: Literal["score", "return"] = "score"


class MemoryData(vf.TaskData):
    seed: int
    options: dict[str, Any] = Field(default_factory=dict)
    branch_session: int | None = None


class MemoryTask(vf.Task[MemoryData]):
    pass


def env_kwargs(config: MemoryTasksetConfig) -> dict[str, Any]:
    kwargs = dict(config.env_kwargs)
    if config.max_sessions is not None:
        kwargs["max_sessions"] = config.max_sessions
    return kwargs


def make_env(config: MemoryTasksetConfig) -> Any:
    """A fresh env for ``config`` (checked by ``memr2.commands.make_env``: an unknown id or argument says so)."""
    from memr2.commands import make_env as build

    return build(config.env_id, env_kwargs(config))


def plan(config: MemoryTasksetConfig) -> list[tuple[int, dict[str, Any]]]:
    """``(seed, reset options)`` per episode, planned as ``memr2 eval`` plans them."""
    from memr2.commands.eval import plan_episodes

    args = argparse.Namespace(conversations=config.conversations or None, episodes=config.episodes, seed=config.seed)
    return [(seed, options) for seed, options, _ in plan_episodes(make_env(config), args)]


class MemoryTaskset(vf.Taskset[MemoryTask, MemoryTasksetConfig]):
    """One task per planned episode, plus one per (episode, branch session)."""

    def load(self):
        config = self.config
        for seed, options in plan(config):
            name = f"{config.env_id}#seed={seed}" + (f",{options['conversation']}" if options else "")
            yield MemoryTask(MemoryData(name=name, prompt=None, seed=seed, options=options), config.task)
            for k in config.branch_sessions:
                if k < 2:
                    raise ValueError(f"branch_sessions: {k} has no session before it to fork after; use k >= 2")
                yield MemoryTask(MemoryData(name=f"{name},branch={k}", prompt=None, seed=seed, options=options,
                                            branch_session=k), config.task)


@functools.lru_cache(maxsize=256)
def _trunk(config_json: str, seed: int, options_json: str, session: int) -> Any:
    """The env at the start of ``session`` after the trunk agent played the sessions before it (once per process)."""
    from memr2.commands import make_agent

    config = MemoryTasksetConfig.model_validate_json(config_json)
    env = make_env(config)
    agent = make_agent(config.trunk, {})
    observation, info = env.reset(seed=seed, options=json.loads(options_json) or None)
    done = False
    while not done and not (info["session"] >= session and info["role"] == "extractor"):
        observation, _, done, _, info = env.step(agent.act(observation, info))
    if done:
        raise ValueError(f"branch session {session} is past the episode's last session")
    return env, observation, info


class MemoryEnvConfig(vf.EnvConfig):
    player: vf.AgentConfig = vf.AgentConfig(harness={"id": "null"}, runtime={"type": "subprocess"})


class MemoryR2Env(vf.Env[MemoryEnvConfig]):
    """One episode per task; each LLM step one interaction of the ``player`` agent."""

    def _prompt(self, config: MemoryTasksetConfig, view: Any) -> tuple[str, str]:
        compact = view.role == "manager" and config.action_format == "compact"
        system = system_prompt(view.role, config.fmt, action_format=config.action_format, style=config.prompt_style)
        text = view_text(view) if config.view_format == "json" else user_message(view, config.prompt_style)
        if config.view_format == "json":
            system += "\nThe view is given as JSON."
        return system, text

    async def run(self, task: MemoryTask, agents: Any) -> None:
        from memr2.commands import make_agent

        config: MemoryTasksetConfig = self.taskset.config
        data = task.data
        outcome: dict[str, Any] = {}
        _OUTCOME.set(outcome)
        trunk = make_agent(config.trunk, {}) if data.branch_session else None
        if data.branch_session:
            base, observation, info = _trunk(config.model_dump_json(), data.seed, json.dumps(data.options),
                                             data.branch_session)
            env = fork(base)
        else:
            env = make_env(config)
            observation, info = env.reset(seed=data.seed, options=data.options or None)
        total, done, steps = 0.0, False, 0
        while not done:
            view = info["view"]
            if data.branch_session and view.session != data.branch_session:
                action = trunk.act(observation, info)
            elif config.llm_roles == "manager" and isinstance(view, ExtractorView):
                action = extract(view.turns)
            else:
                action = await self._model_step(task, agents, config, view, steps)
            observation, reward, done, _, info = env.step(action)
            total += reward
            steps += 1
        core = env.unwrapped
        metrics = info.get("metrics", {})
        outcome.update(score=float(metrics.get("score", 0.0)), total_reward=total, invalid=core.invalid_actions,
                       entries=len(core.bank), tokens=core.bank.tokens)

    async def _model_step(self, task: MemoryTask, agents: Any, config: MemoryTasksetConfig, view: Any,
                          step: int) -> Any:
        system, text = self._prompt(config, view)
        data = task.data.model_copy(update={"prompt": text, "system_prompt": system,
                                            "name": f"{task.data.name},step={step},{view.role}"})
        async with agents.player.interaction(MemoryTask(data, task.config)) as interaction:
            segment = await interaction.turn()
        reply = segment.last_reply
        if view.role == "manager" and config.action_format == "compact":
            return parse_compact(view, reply)
        return reply

    async def finalize(self, task: MemoryTask, episode: Any) -> None:
        outcome = _OUTCOME.get(None)
        if not outcome:
            raise RuntimeError("the episode did not finish; no score to give")
        config: MemoryTasksetConfig = self.taskset.config
        value = outcome["score"] if config.reward == "score" else outcome["total_reward"]
        for trace in episode.traces:
            trace.record_reward(f"memenv_{config.reward}", value)
            trace.record_metrics({"memenv_score": outcome["score"], "memenv_return": outcome["total_reward"],
                                  "memenv_invalid_actions": outcome["invalid"], "memenv_entries": outcome["entries"]})
