"""Run an agent through episodes: the one loop shared by ``memr2 play``, ``memr2 eval`` and evaluation in training."""

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
    metrics = info.get("metrics") or core.score("all")
    return EpisodeResult(
        conversation_id=core.conversation.conversation_id,
        seed=seed,
        score=metrics["score"],
        metrics={k: v for k, v in metrics.items() if k != "qa"},
        qa=info.get("qa", []),
        session_rewards=info.get("session_rewards", []),
        total_reward=total_reward,
        entries=len(core.bank),
        tokens=core.bank.tokens,
        invalid_actions=core.invalid_actions,
        steps=steps,
        wall_time_s=time.perf_counter() - start,
    )
