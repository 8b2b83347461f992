"""Group-relative advantages (GRPO, Shao et al. 2024; Dr. GRPO, Liu et al. 2025) as pure numpy functions.

Rows carry a group key (global group: conversation, session, role; local group: one set of m rerollouts).
Inside each group a reward is mean-centred and, unless ``scale_rewards="none"``, divided by a standard
deviation plus ``std_eps``. The defaults reproduce TRL's ``GRPOTrainer``: Bessel-corrected std and
``(r - mean) / (std + 1e-4)``.

>>> group_advantages([1.0, 0.0, 0.0, 0.0], [0, 0, 0, 0]).round(4).tolist()
[1.4997, -0.4999, -0.4999, -0.4999]
>>> group_advantages([1.0, 0.0, 0.0, 0.0], [0, 0, 0, 0], scale_rewards="none").tolist()
[0.75, -0.25, -0.25, -0.25]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def group_index(groups: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Map arbitrary group keys to dense ids ``0..G-1`` in order of first appearance; returns (ids [N], G)."""
    dense: dict[Hashable, int] = {}
    ids = np.array([dense.setdefault(g, len(dense)) for g in groups], dtype=np.int64)
    return ids, len(dense)


def group_mean_std(rewards: np.ndarray, ids: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group mean and Bessel-corrected std (std is 0 for a group of one row). Shapes: [N], [N] -> [G], [G]."""
    counts = np.bincount(ids, minlength=num_groups).astype(np.float64)  # [G]
    mean = np.bincount(ids, weights=rewards, minlength=num_groups) / np.maximum(counts, 1)  # [G]
    sq = np.bincount(ids, weights=(rewards - mean[ids]) ** 2, minlength=num_groups)  # [G]
    std = np.sqrt(sq / np.maximum(counts - 1, 1))  # [G]
    return mean, np.where(counts > 1, std, 0.0)


def group_advantages(
    rewards: Sequence[float] | np.ndarray,
    groups: Sequence[Hashable],
    *,
    scale_rewards: str = "group",
    std_eps: float = 1e-4,
    std_floor: float = 0.0,
) -> np.ndarray:
    """Advantages ``(r - mean_g) / (max(std, std_floor) + std_eps)`` per row.

    ``scale_rewards``: ``"group"`` uses each group's std, ``"batch"`` the std of all rewards (TRL), ``"none"``
    only centres (Dr. GRPO). A group of one row has advantage 0. Shapes: rewards [N], groups [N] -> [N].
    """
    rewards = np.asarray(rewards, dtype=np.float64)  # [N]
    if rewards.ndim != 1 or len(rewards) != len(groups):
        raise ValueError(f"rewards {rewards.shape} and groups ({len(groups)}) must be 1-D and of equal length")
    if len(rewards) == 0:
        return rewards
    ids, num_groups = group_index(groups)
    mean, std = group_mean_std(rewards, ids, num_groups)
    advantages = rewards - mean[ids]  # [N]
    if scale_rewards == "group":
        advantages = advantages / (np.maximum(std[ids], std_floor) + std_eps)
    elif scale_rewards == "batch":
        batch_std = rewards.std(ddof=1) if len(rewards) > 1 else 0.0
        advantages = advantages / (max(batch_std, std_floor) + std_eps)
    elif scale_rewards != "none":
        raise ValueError(f"scale_rewards={scale_rewards!r}: choose 'group', 'batch' or 'none'")
    return advantages


def summed_advantages(
    rewards: Sequence[float] | np.ndarray,
    groups: Sequence[Hashable],
    anchor_rewards: Sequence[float] | np.ndarray,
    anchor_groups: Sequence[Hashable],
    anchored: Sequence[int],
    *,
    local_advantage_weight: float = 1.0,
    **scaling: object,
) -> np.ndarray:
    """GiGPO-style sums (Feng et al. 2025): row ``anchored[k]`` gets its own group advantage plus
    ``local_advantage_weight`` (GiGPO's omega; ``TrainerConfig.local_advantage_weight``) times the advantage of
    ``anchor_rewards[k]`` inside ``anchor_groups[k]``; other rows keep their group advantage.

    The anchor entries are extra members of their groups (a source step's session outcome sits in the group of
    the m rerollouts of that session), so they also move those groups' mean and std. ``scaling``: as
    :func:`group_advantages`. Shapes: rewards [N], groups [N], anchor_* [K], anchored [K] (row indices) -> [N].

    >>> summed_advantages([1.0, 0.0, 0.5, 0.0], ["g", "g", "l", "l"], [1.0], ["l"], [0],
    ...                   local_advantage_weight=0.5, scale_rewards="none").tolist()
    [0.75, -0.5, 0.0, -0.5]
    """
    n, anchored = len(rewards), np.asarray(anchored, dtype=np.int64)
    if not len(anchor_rewards) == len(anchor_groups) == len(anchored):
        raise ValueError("anchor_rewards, anchor_groups and anchored must be of equal length")
    both = group_advantages([*rewards, *anchor_rewards], [*groups, *anchor_groups], **scaling)  # [N + K]
    advantages = both[:n].copy()
    np.add.at(advantages, anchored, local_advantage_weight * both[n:])
    return advantages


def frac_zero_std(rewards: Sequence[float] | np.ndarray, groups: Sequence[Hashable]) -> float:
    """Share of groups whose rewards are all equal (they teach nothing; TRL's ``frac_reward_zero_std``)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if len(rewards) == 0:
        return 0.0
    ids, num_groups = group_index(groups)
    _, std = group_mean_std(rewards, ids, num_groups)
    return float(np.mean(std < 1e-12))
