"""Run an agent through episodes: the one loop shared by ``memr2 play`` and ``memr2 eval`` (one env, one
:class:`~agents.base.MemoryAgent`, no torch).

The trainer's batched rollouts (:mod:`algorithms.rollouts`) are a separate loop on purpose (lockstep envs, a
batched policy with log-probs, env clones for local groups; see its docstring); both read an episode's end through
:func:`episode_outcome`.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, Field

from agents.base import MemoryAgent


class EpisodeSummary(BaseModel):
    """One episode in a line: final score and return, the bank's size, invalid actions, steps and wall time."""

    conversation_id: str
    seed: int | None = None
    score: float
    total_reward: float
    entries: int
    tokens: int
    invalid_actions: int
    steps: int
    wall_time_s: float


class EpisodeResult(EpisodeSummary):
    """What one episode produced: the summary plus final metrics and per-question records."""

    metrics: dict[str, Any]
    qa: list[dict[str, Any]] = Field(default_factory=list)
    session_rewards: list[float] = Field(default_factory=list)


def episode_outcome(env: Any, info: dict[str, Any]) -> dict[str, Any]:
    """What an episode left, read from its unwrapped ``env`` and last ``info``: ``score``, ``metrics`` (without the
    per-question records), ``qa`` (the records), ``session_rewards``, ``compression_penalty``, the bank's ``entries``
    / ``tokens`` and ``invalid_actions``. The metrics are the env's final ones at termination; for an episode cut
    short (a ``TimeLimit``) the bank is scored now on every question. The one reader of an episode's end, for
    :func:`run_episode` and the trainer's rollouts (:mod:`algorithms.rollouts`)."""
    metrics = info.get("metrics") or env.score("all")
    penalty = info["compression_penalty"] if "compression_penalty" in info else env.compression_penalty()
    return {"score": float(metrics["score"]), "metrics": {k: v for k, v in metrics.items() if k != "qa"},
            "qa": info.get("qa", []), "session_rewards": list(info.get("session_rewards", [])),
            "compression_penalty": float(penalty), "entries": len(env.bank), "tokens": env.bank.tokens,
            "invalid_actions": env.invalid_actions}


def run_episode(
    env: gym.Env,
    agent: MemoryAgent,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    on_step: Any = None,
) -> EpisodeResult:
    """Reset ``env`` (with ``seed``/``options``), let ``agent`` act until termination, return the result.

    ``on_step(info)``, if given, is called after every step (e.g. to advance a progress bar).
    """
    start = time.perf_counter()
    if callable(getattr(agent, "reset", None)):
        agent.reset()
    observation, info = env.reset(seed=seed, options=options)
    total_reward, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
        total_reward += reward
        steps += 1
        if on_step is not None:
            on_step(info)
    core = env.unwrapped
    outcome = episode_outcome(core, info)
    outcome.pop("compression_penalty")
    return EpisodeResult(
        conversation_id=core.conversation.conversation_id,
        seed=seed,
        **outcome,
        total_reward=total_reward,
        steps=steps,
        wall_time_s=time.perf_counter() - start,
    )
