"""The three estimators of DESIGN.md as one function: which rows a batch of rollouts yields, with which reward.

| name     | rows                               | reward of a step in session s                                  |
|----------|------------------------------------|----------------------------------------------------------------|
| `grpo`   | every global step                  | terminal score - penalty, the same for every step              |
| `global` | every global step                  | final-bank score on questions with evidence in s, - penalty    |
| `logo`   | global rows + every local step     | global rows: as `global`; local rows: session score, - penalty |
| `local`  | every local step                   | as `logo`'s local rows                                         |

"penalty" is the compression penalty of the bank the score was taken on; a step's own invalid-action penalty is
added to its row. Groups: global rows by (conversation, session, role, chunk), so each holds the n rollouts'
decisions at one point; local rows by (local group, role, chunk), so each holds the m rerollouts. Switching the
estimator changes only rows and rewards -- the samples are those of the one batch. Steps played by a scripted
role (:class:`~algorithms.policies.base.ScriptedRole`) yield no rows.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.advantages import group_advantages
from algorithms.rollouts import RolloutBatch, Step


@dataclass
class Row:
    """One training row: a policy sample, its reward, group and advantage."""

    sample: Any
    old_logp: torch.Tensor  # [T]
    reward: float
    group: Hashable
    kind: str  # "global" | "local"
    role: str
    session: int
    parse_failed: bool = False
    advantage: float = 0.0


def _row(step: Step, reward: float, group: Hashable, kind: str) -> Row:
    d = step.decision
    return Row(d.sample, d.old_logp, reward + step.penalty, group, kind, step.role, step.session, d.parse_failed)


def build_rows(batch: RolloutBatch, estimator: str) -> list[Row]:
    """Rows of ``batch`` under ``estimator`` (``grpo`` | ``global`` | ``logo`` | ``local``), advantages unset."""
    if estimator not in ("grpo", "global", "logo", "local"):
        raise ValueError(f"estimator={estimator!r}: choose 'grpo', 'global', 'logo' or 'local'")
    rows: list[Row] = []
    if estimator != "local":
        for traj in batch.trajectories:
            for step in (s for s in traj.steps if not s.decision.scripted):
                if estimator == "grpo":
                    reward = traj.score - traj.compression_penalty
                else:
                    reward = traj.session_rewards[step.session - 1] - traj.compression_penalty
                key = ("global", traj.conversation, step.session, step.role, step.chunk)
                rows.append(_row(step, reward, key, "global"))
    if estimator in ("logo", "local"):
        for g, group in enumerate(batch.local_groups):
            for traj in group.rerollouts:
                reward = traj.score - traj.compression_penalty
                for step in (s for s in traj.steps if not s.decision.scripted):
                    rows.append(_row(step, reward, ("local", g, step.role, step.chunk), "local"))
    return rows


def assign_advantages(
    rows: list[Row], *, scale_rewards: str = "group", std_eps: float = 1e-4, std_floor: float = 0.0
) -> np.ndarray:
    """Z-score rewards inside each row's group (in place on ``rows``); returns the advantages ``[N]``."""
    rewards, groups = [r.reward for r in rows], [r.group for r in rows]
    advantages = group_advantages(rewards, groups, scale_rewards=scale_rewards, std_eps=std_eps, std_floor=std_floor)
    for row, advantage in zip(rows, advantages):
        row.advantage = float(advantage)
    return advantages
