"""Rollouts for training: n full-horizon rollouts per conversation, plus local rerollouts of single sessions.

Why a second rollout module next to :mod:`agents.rollout`: that one plays one :class:`~agents.base.MemoryAgent`
through one episode (``agent.act(observation, info) -> action``, no torch), for ``play`` / ``eval``. Training
needs what an agent does not give: many envs stepped in lockstep by a batched :class:`~algorithms.policies.base.
Policy` whose decisions carry sampled log-probs, per-step records (:class:`Step`), and env clones for local
groups. Delegating one to the other would either pull torch into the agents' path or unbatch training; they share
how an episode's end is read (:func:`agents.rollout.episode_outcome`) and the reward's formula
(:func:`memenv.env.penalized_reward`).

All envs of a batch are stepped in lockstep, so the policy acts on every active env at once (one batched forward
for the FeaturePolicy, one batched ``generate`` for an LLM). A local group (LoGo-GRPO) is made by cloning one
rollout's env at the start of a session (``env.unwrapped.clone()``, O(1) in bank size), rerolling that session
``m`` times from the identical snapshot with sampling on, and scoring each rerollout right after the session on
the questions answerable so far (the env's session reward: ``score("seen") - compression_penalty()``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.rollout import episode_outcome
from algorithms.policies.base import Decision, Policy
from memenv.actions import ManageAction, UpdateOp, coerce_action
from memenv.env import penalized_reward
from memenv.scoring.base import QARecord, summarize


@dataclass
class Step:
    """One env step taken by the policy."""

    role: str
    session: int  # 1-based
    chunk: int
    decision: Decision
    reward: float  # the env's reward for this step (invalid-action penalty included)
    penalty: float = 0.0  # the invalid-action penalty alone (0 when the action was valid)
    error: str | None = None
    updates: int = 0  # UPDATE operations this (manager) step emitted for facts the env has gold for
    update_hits: int = 0  # of those, how many targeted a memory that speaks for the fact's key (privileged envs)


@dataclass
class Trajectory:
    """One full-horizon rollout (global) or one rerolled session (local)."""

    conversation: int  # index of the conversation in the batch
    rollout: int  # index among the n (or m) samples of its group
    seed: int
    steps: list[Step] = field(default_factory=list)
    episode_return: float = 0.0
    score: float = 0.0  # final QA score (global) or session-level score (local)
    compression_penalty: float = 0.0
    session_rewards: list[float] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    entries: int = 0
    tokens: int = 0
    start_state: str | None = None  # JSON EnvState at the start (local rerollouts, when recorded)
    session_states: dict[int, str] = field(default_factory=dict)  # JSON EnvState at each session start (recorded)

    @property
    def reward(self) -> float:
        """``score`` minus the compression penalty, as the env pays it (:func:`memenv.env.penalized_reward`): the
        terminal reward of a global rollout, the session reward of a local rerollout."""
        return penalized_reward(self.score, self.compression_penalty)

    def session_reward(self, session: int) -> float:
        """The final-bank score credited to ``session`` (1-based) minus the compression penalty."""
        return penalized_reward(self.session_rewards[session - 1], self.compression_penalty)


@dataclass
class LocalGroup:
    """m rerollouts of one session from the snapshot of one global rollout."""

    conversation: int
    session: int
    source_rollout: int
    rerollouts: list[Trajectory]
    snapshot_state: str | None = None
    source_end: Any = None  # the source rollout's env right after the rerolled session (an O(1) clone)

    @functools.cached_property
    def source_reward(self) -> float:
        """The source rollout's own session reward, measured as a rerollout's; scored only when an estimator asks
        (``logo-sum``), so the other estimators do not pay for it."""
        return self.source_end.session_reward()


@dataclass
class RolloutBatch:
    trajectories: list[Trajectory]
    local_groups: list[LocalGroup]
    env_steps: int


def run_lockstep(
    envs: list[Any],
    infos: list[dict[str, Any]],
    trajectories: list[Trajectory],
    policy: Policy,
    generator: torch.Generator,
    *,
    greedy: bool = False,
    until_session_end: bool = False,
    on_session_start: Callable[[int, Any, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Step every env until it terminates (or its session ends); return the last info of each env.

    ``on_session_start(i, env, info)`` is called before the first step of every session of env ``i``.
    """
    active = list(range(len(envs)))
    while active:
        if on_session_start is not None:
            for i in active:
                if infos[i]["role"] == "extractor" and infos[i]["chunk"] == 0:
                    on_session_start(i, envs[i], infos[i])
        decisions = policy.act([infos[i] for i in active], generator=generator, greedy=greedy)
        still = []
        for i, decision in zip(active, decisions):
            info = infos[i]
            _, reward, terminated, truncated, new_info = envs[i].step(decision.action)
            traj = trajectories[i]
            error = new_info.get("error")
            penalty = envs[i].invalid_action_penalty if error else 0.0
            step = Step(info["role"], info["session"], info["chunk"], decision, reward, penalty, error)
            step.updates, step.update_hits = update_hits(info, decision.action)
            traj.steps.append(step)
            traj.episode_return += reward
            infos[i] = new_info
            done = terminated or truncated or (until_session_end and new_info["session_end"])
            if not done:
                still.append(i)
        active = still
    return infos


def update_hits(info: dict[str, Any], action: Any) -> tuple[int, int]:
    """(UPDATEs of facts with gold, of those aimed at a memory about the fact's key), from a privileged env's
    ``info["gold_facts"]``; (0, 0) without gold. A diagnostic for the trainer: the policy never reads it."""
    gold = info.get("gold_facts")
    if not gold or info["role"] != "manager":
        return 0, 0
    parsed = coerce_action("manager", action)
    if not isinstance(parsed, ManageAction):
        return 0, 0
    by_turn = {fact["dia_id"]: fact for fact in gold}
    updates = hits = 0
    for op in parsed.operations:
        truth = next((by_turn[d] for d in getattr(op, "dia_ids", ()) if d in by_turn), None)
        if isinstance(op, UpdateOp) and truth is not None:
            updates += 1
            hits += op.memory_id in truth["memories"]
    return updates, hits


def _finish_global(traj: Trajectory, env: Any, info: dict[str, Any]) -> None:
    """A finished rollout's outcome fields, read from its env and last info (:func:`agents.rollout.episode_outcome`,
    the reader ``memr2 eval`` uses too)."""
    outcome = episode_outcome(env, info)
    for name in ("metrics", "score", "session_rewards", "compression_penalty", "entries", "tokens"):
        setattr(traj, name, outcome[name])


def collect_rollouts(
    make_env: Callable[[], Any],
    seeds: Sequence[int],
    policy: Policy,
    *,
    num_generations: int,
    generator: torch.Generator,
    rng: np.random.Generator,
    local_num_generations: int = 0,
    local_prob: float = 0.0,
    record_states: bool = False,
) -> RolloutBatch:
    """``num_generations`` rollouts of each conversation (env seed), and local groups when ``local_prob > 0``.

    For every conversation and session, with probability ``local_prob`` one of its rollouts (chosen uniformly)
    is snapshotted at that session's start and the session is rerolled ``local_num_generations`` times.
    """
    envs, infos, trajectories, plan = [], [], [], {}
    for c, seed in enumerate(seeds):
        base = make_env().unwrapped
        _, info = base.reset(seed=int(seed))
        for s in range(1, base.num_sessions + 1):
            if local_num_generations and rng.random() < local_prob:
                plan[(c, s)] = int(rng.integers(num_generations))
        for r in range(num_generations):
            envs.append(base.clone())
            infos.append(dict(info))
            trajectories.append(Trajectory(conversation=c, rollout=r, seed=int(seed)))
    snapshots: dict[tuple[int, int], tuple[Any, dict[str, Any], int]] = {}

    source_ends: dict[tuple[int, int], Any] = {}

    def on_session_start(i: int, env: Any, info: dict[str, Any]) -> None:
        traj = trajectories[i]
        if plan.get((traj.conversation, info["session"] - 1)) == traj.rollout:  # the source finished that session
            source_ends[(traj.conversation, info["session"] - 1)] = env.clone()
        if record_states:
            traj.session_states[info["session"]] = env.get_state().model_dump_json()
        if plan.get((traj.conversation, info["session"])) == traj.rollout:
            snapshots[(traj.conversation, info["session"])] = (env.clone(), dict(info), traj.rollout)

    infos = run_lockstep(envs, infos, trajectories, policy, generator, on_session_start=on_session_start)
    for traj, env, info in zip(trajectories, envs, infos):
        _finish_global(traj, env, info)
        if plan.get((traj.conversation, env.num_sessions)) == traj.rollout:
            source_ends[(traj.conversation, env.num_sessions)] = env
    env_steps = sum(len(t.steps) for t in trajectories)
    local_groups = []
    for (c, s), (snapshot, info, source) in sorted(snapshots.items()):
        group = reroll_session(snapshot, info, policy, local_num_generations, generator, seed=int(seeds[c]),
                               conversation=c, record_states=record_states)
        group.source_rollout, group.source_end = source, source_ends[(c, s)]
        env_steps += sum(len(t.steps) for t in group.rerollouts)
        local_groups.append(group)
    return RolloutBatch(trajectories=trajectories, local_groups=local_groups, env_steps=env_steps)


def reroll_session(
    snapshot: Any,
    info: dict[str, Any],
    policy: Policy,
    m: int,
    generator: torch.Generator,
    *,
    seed: int = 0,
    conversation: int = 0,
    record_states: bool = False,
) -> LocalGroup:
    """Reroll the session that ``snapshot`` (an env at a session start) is about to play, ``m`` times."""
    envs = [snapshot.clone() for _ in range(m)]
    session = info["session"]
    rerollouts = [Trajectory(conversation=conversation, rollout=j, seed=seed) for j in range(m)]
    if record_states:
        for env, traj in zip(envs, rerollouts):
            traj.start_state = env.get_state().model_dump_json()
    run_lockstep(envs, [dict(info) for _ in range(m)], rerollouts, policy, generator, until_session_end=True)
    for env, traj in zip(envs, rerollouts):
        scored = env.score("seen")
        traj.compression_penalty = env.compression_penalty()
        traj.score = float(scored["score"])
        traj.metrics = {k: v for k, v in scored.items() if k != "qa"}
        traj.entries, traj.tokens = len(env.bank), env.bank.tokens
    snapshot_state = snapshot.get_state().model_dump_json() if record_states else None
    return LocalGroup(conversation, session, -1, rerollouts, snapshot_state)


def evaluate_policy(
    make_env: Callable[[], Any], seeds: Sequence[int], policy: Policy, generator: torch.Generator
) -> dict[str, Any]:
    """Greedy episodes on ``seeds``: ``summarize`` over all their questions (micro-averaged ``score``,
    ``per_category``, ``evidence_recall``, ``m_fail``) plus mean ``return``, summed bank ``entries`` / ``tokens``
    and ``episode_scores``."""
    envs, infos, trajectories = [], [], []
    for seed in seeds:
        env = make_env().unwrapped
        infos.append(env.reset(seed=int(seed))[1])
        envs.append(env)
        trajectories.append(Trajectory(conversation=len(envs) - 1, rollout=0, seed=int(seed)))
    infos = run_lockstep(envs, infos, trajectories, policy, generator, greedy=True)
    records = []
    for traj, env, info in zip(trajectories, envs, infos):
        _finish_global(traj, env, info)
        records += [QARecord.model_validate(r) for r in info["qa"]]
    return {
        **summarize(records),
        "return": float(np.mean([t.episode_return for t in trajectories])),
        "episode_scores": [t.score for t in trajectories],
        "entries": sum(t.entries for t in trajectories),
        "tokens": sum(t.tokens for t in trajectories),
        "invalid_actions": int(sum(env.invalid_actions for env in envs)),
        "env_steps": sum(len(t.steps) for t in trajectories),
    }
