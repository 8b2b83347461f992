"""Choose the ``reference`` agent's settings on TRAINING seeds only, and print the table of what was tried.

Every setting of :class:`agents.reference.ReferenceAgent` is run on Synthetic-v1 (unprivileged) at 8, 16 and 32
sessions over the training seeds ``0 .. N-1`` (the trainer's conversations; validation seeds start at 100000 and
test seeds at 200000, and none of them is touched here). The chosen setting has the best mean score over the
three horizons; ties keep the earlier (simpler) row.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/reference_agent_tuning.py --seeds 20
"""

from __future__ import annotations

import argparse
import itertools

import gymnasium as gym
import numpy as np

import memenv  # noqa: F401  (registers the environments)
from agents.reference import ReferenceAgent
from agents.rollout import run_episode

HORIZONS = (8, 16, 32)
FIRST_HELD_OUT_SEED = 100000  # validation (100000+) and test (200000+) seeds are never used for tuning
GRID = {"delete_keeps_fact": (False, True), "target": ("last", "first")}


def training_score(settings: dict, horizon: int, seeds: range) -> float:
    """Mean Synthetic-v1 score of the agent with ``settings`` over training ``seeds`` at ``horizon`` sessions."""
    if seeds.stop > FIRST_HELD_OUT_SEED:
        raise ValueError(f"seeds up to {seeds.stop - 1} reach the held-out seeds (>= {FIRST_HELD_OUT_SEED})")
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=horizon)
    assert not env.unwrapped.privileged
    agent = ReferenceAgent(**settings)
    return float(np.mean([run_episode(env, agent, seed=seed).score for seed in seeds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="training seeds 0 .. N-1 per horizon")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 training seeds")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 2
    seeds = range(args.seeds)
    rows = []
    for values in itertools.product(*GRID.values()):
        settings = dict(zip(GRID, values))
        scores = [training_score(settings, horizon, seeds) for horizon in HORIZONS]
        rows.append((settings, scores, float(np.mean(scores))))
    print(f"training seeds 0..{args.seeds - 1}, Synthetic-v1, unprivileged")
    print("| " + " | ".join([*GRID, *(f"{h} sessions" for h in HORIZONS), "mean"]) + " |")
    print("|" + "---|" * (len(GRID) + len(HORIZONS) + 1))
    for settings, scores, mean in rows:
        print("| " + " | ".join([*map(str, settings.values()), *(f"{s:.3f}" for s in scores), f"{mean:.3f}"]) + " |")
    best = max(rows, key=lambda row: row[2])  # max keeps the first of equal rows
    print(f"chosen: {best[0]} (mean {best[2]:.3f})")


if __name__ == "__main__":
    main()
