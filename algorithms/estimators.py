"""Estimators: which training rows a batch of rollouts yields, with which reward (a registry, open to your own).

| name     | rows                               | reward of a step in session s                                  |
|----------|------------------------------------|----------------------------------------------------------------|
| `grpo`   | every global step                  | terminal score - penalty, the same for every step              |
| `global` | every global step                  | final-bank score on questions with evidence in s, - penalty    |
| `logo`   | global rows + every local step     | global rows: as `global`; local rows: session score, - penalty |
| `local`  | every local step                   | as `logo`'s local rows                                         |
| `logo-sum` | as `logo`                        | as `logo`; a source step also gets w x its local advantage     |
| `grpo+local` | global rows + every local step   | global rows: as `grpo`; local rows: as `logo`'s                |

`grpo+local` is the ablation between `grpo` and `logo`, which differs from `grpo` twice: it adds local groups
*and* credits global rows per session. ``grpo+local - grpo`` is the local groups' effect, ``logo - grpo+local``
the session-credited global reward's.

`logo-sum` is GiGPO-style (Feng et al. 2025): the global step that a local group rerolled (same session, same
rollout) is also a member of that local group, with its own session reward, and its advantage is its global
advantage plus ``w`` = ``local_advantage_weight`` (GiGPO's omega; one name in the code and the config) times its
advantage in the local group.

"penalty" is the compression penalty of the bank the score was taken on; a step's own invalid-action penalty is
added to its row. Groups: global rows by (conversation, session, role, chunk), so each holds the n rollouts'
decisions at one point; local rows by (local group, role, chunk), so each holds the m rerollouts. Switching the
estimator changes only rows and rewards -- the samples are those of the one batch. Steps played by a scripted
role (:class:`~algorithms.policies.base.ScriptedRole`) yield no rows.

An :class:`Estimator` is a name, whether it needs local groups (the trainer then rerolls sessions), and a pure
``rows(batch) -> list[Row]``; :data:`ESTIMATORS` holds the built-in ones and :func:`get_estimator` also loads
``package.module:factory`` (a callable returning an :class:`Estimator`), which is how ``memr2 train --estimator``
takes your own (docs/estimators.md). Advantages are then z-scored inside each row's group, whatever the estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.advantages import summed_advantages
from algorithms.rollouts import RolloutBatch, Step, Trajectory
from memenv.objects import check_keywords, resolve_spec


@dataclass
class Row:
    """One training row: a policy sample, its reward, group and advantage.

    ``reward`` is z-scored inside ``group`` to give ``advantage``; ``weight`` then scales the row's policy-gradient
    term (``advantage * weight``; e.g. 0.5 to count local rows half), leaving the KL and entropy terms as they are.
    ``kind`` / ``role`` / ``session`` label the row for the logs; ``parse_failed`` marks an invalid action.
    """

    sample: Any
    old_logp: torch.Tensor  # [T]
    reward: float
    group: Hashable
    kind: str  # "global" | "local"
    role: str
    session: int
    parse_failed: bool = False
    advantage: float = 0.0
    anchor_group: Hashable | None = None  # logo-sum: the local group this (source) step also belongs to
    anchor_reward: float = 0.0  # ... and its reward there (its rollout's session reward)
    weight: float = 1.0  # scales this row's policy-gradient term


def _row(step: Step, reward: float, group: Hashable, kind: str) -> Row:
    d = step.decision
    return Row(d.sample, d.old_logp, reward + step.penalty, group, kind, step.role, step.session, d.parse_failed)


def global_steps(batch: RolloutBatch) -> Iterator[tuple[Trajectory, Step]]:
    """Every trained (not scripted) step of the full-horizon rollouts, with its trajectory."""
    for traj in batch.trajectories:
        for step in traj.steps:
            if not step.decision.scripted:
                yield traj, step


def local_steps(batch: RolloutBatch) -> Iterator[tuple[int, Trajectory, Step]]:
    """Every trained step of the local rerollouts, with its local group's index and its rerollout."""
    for g, group in enumerate(batch.local_groups):
        for traj in group.rerollouts:
            for step in traj.steps:
                if not step.decision.scripted:
                    yield g, traj, step


def global_group(traj: Trajectory, step: Step) -> Hashable:
    """The global group of a step: the n rollouts' decisions at one point of one conversation."""
    return ("global", traj.conversation, step.session, step.role, step.chunk)


def grpo_rows(batch: RolloutBatch) -> list[Row]:
    """Every global step, credited with its rollout's terminal score."""
    return [_row(s, t.reward, global_group(t, s), "global") for t, s in global_steps(batch)]


def global_rows(batch: RolloutBatch) -> list[Row]:
    """Every global step, credited with the final-bank score of the questions credited to its session."""
    return [_row(s, t.session_reward(s.session), global_group(t, s), "global") for t, s in global_steps(batch)]


def local_rows(batch: RolloutBatch) -> list[Row]:
    """Every local step, credited with its rerollout's score right after the rerolled session."""
    return [_row(s, t.reward, ("local", g, s.role, s.chunk), "local") for g, t, s in local_steps(batch)]


def logo_rows(batch: RolloutBatch) -> list[Row]:
    """LoGo-GRPO: the global rows of ``global`` plus the local rows."""
    return global_rows(batch) + local_rows(batch)


def grpo_local_rows(batch: RolloutBatch) -> list[Row]:
    """``grpo``'s global rows (terminal score) plus ``logo``'s local rows: local groups without session credit."""
    return grpo_rows(batch) + local_rows(batch)


def logo_sum_rows(batch: RolloutBatch) -> list[Row]:
    """``logo``'s rows, with each source step anchored in its local group (GiGPO-style summed advantage)."""
    rows = global_rows(batch)
    sources = {(group.conversation, group.source_rollout, group.session): (g, group.source_reward)
               for g, group in enumerate(batch.local_groups)}
    for row, (traj, step) in zip(rows, global_steps(batch)):  # global_rows walks global_steps in this order
        anchor = sources.get((traj.conversation, traj.rollout, step.session))
        if anchor is not None:
            row.anchor_group, row.anchor_reward = ("local", anchor[0], step.role, step.chunk), anchor[1] + step.penalty
    return rows + local_rows(batch)


@dataclass(frozen=True)
class Estimator:
    """How a batch of rollouts becomes training rows."""

    name: str
    rows: Callable[[RolloutBatch], list[Row]]
    needs_local: bool = False  # the trainer collects local groups (m rerollouts of sessions) only for these


ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator("grpo", grpo_rows),
        Estimator("global", global_rows),
        Estimator("logo", logo_rows, needs_local=True),
        Estimator("local", local_rows, needs_local=True),
        Estimator("logo-sum", logo_sum_rows, needs_local=True),
        Estimator("grpo+local", grpo_local_rows, needs_local=True),
    )
}


def get_estimator(name: str, kwargs: dict[str, Any] | None = None) -> Estimator:
    """A built-in estimator by name, or ``package.module:factory`` / ``path/to/file.py:factory`` whose factory,
    called with ``kwargs`` (``TrainerConfig.estimator_kwargs``), returns an :class:`Estimator` (checked before it
    is used)."""
    if name in ESTIMATORS:
        if kwargs:
            raise ValueError(f"estimator_kwargs {sorted(kwargs)}: the built-in estimator {name!r} takes none (they "
                             "go to the factory of your own estimator, 'package.module:factory')")
        return ESTIMATORS[name]
    if ":" not in name:
        raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATORS)} or 'package.module:factory'")
    factory = resolve_spec(name, method="rows", what="estimator factory")
    check_keywords(factory, kwargs or {}, f"estimator factory {name!r}")
    estimator = factory(**(kwargs or {}))
    if not isinstance(estimator, Estimator):
        raise ValueError(f"estimator {name!r} returned {type(estimator).__name__}, not algorithms.estimators.Estimator "
                         "(docs/estimators.md)")
    return estimator


def build_rows(batch: RolloutBatch, estimator: str | Estimator) -> list[Row]:
    """Rows of ``batch`` under ``estimator`` (a name, a ``module:factory`` spec or an :class:`Estimator`)."""
    return (estimator if isinstance(estimator, Estimator) else get_estimator(estimator)).rows(batch)


def assign_advantages(
    rows: list[Row], *, scale_rewards: str = "group", std_eps: float = 1e-4, std_floor: float = 0.0,
    local_advantage_weight: float = 1.0,
) -> np.ndarray:
    """Z-score rewards inside each row's group (in place on ``rows``); returns the advantages ``[N]``. A row with
    an ``anchor_group`` also gets ``local_advantage_weight`` times the z-score of its ``anchor_reward`` there."""
    anchored = [i for i, r in enumerate(rows) if r.anchor_group is not None]
    advantages = summed_advantages(
        [r.reward for r in rows], [r.group for r in rows], [rows[i].anchor_reward for i in anchored],
        [rows[i].anchor_group for i in anchored], anchored, local_advantage_weight=local_advantage_weight,
        scale_rewards=scale_rewards, std_eps=std_eps, std_floor=std_floor,
    )
    for row, advantage in zip(rows, advantages):
        row.advantage = float(advantage)
    return advantages
