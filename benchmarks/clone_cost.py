"""Cost of forking a MemoryEnv: ``env.unwrapped.clone()`` vs ``copy.deepcopy(env)`` at bank sizes 100 / 1k / 10k.

Local rerollouts (LoGo-GRPO) fork the env at every session, so a fork must not copy the bank. The bank is a
persistent structure; ``clone`` should cost the same at any size. Both are measured in this one run on the same
env (a Synthetic-v0 episode whose bank was filled through ordinary manager steps), and the script prints their
ratio and whether the goals hold: clone(10k) / clone(100) <= 2 and deepcopy / clone >= 100 at 10k.

Usage::

    python benchmarks/clone_cost.py [--sizes 100 1000 10000] [--repeats 200] [--quick]

``--quick`` is a smoke run (sizes 100 and 10000, a few repeats, seconds); its goal lines are a rough reading.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from memenv.actions import MAX_ACTION_ITEMS, AddOp, ExtractAction, ManageAction
from memenv.data.synthetic import ATTRIBUTES, PEOPLE
from memenv.envs.synthetic import SyntheticEnv


def filled_env(size: int, sessions: int = 32) -> SyntheticEnv:
    """A Synthetic-v0 env mid-episode whose bank holds ``size`` entries, ADDed by ordinary manager steps (at most
    ``MAX_ACTION_ITEMS`` ADDs a step, so a large bank gets more sessions)."""
    sessions = max(sessions, -(-size // MAX_ACTION_ITEMS) + 1)
    env = SyntheticEnv(max_sessions=sessions)
    env.reset(seed=0)
    contents = [
        f"{PEOPLE[i % len(PEOPLE)]}'s {attr.name} is {attr.values[(i // 7) % len(attr.values)]} (note {i})."
        for i, attr in ((i, ATTRIBUTES[i % len(ATTRIBUTES)]) for i in range(size))
    ]
    batch = -(-size // (sessions - 1))  # leave the last session unplayed so the episode is still running
    for start in range(0, size, batch):
        env.step(ExtractAction())
        env.step(ManageAction(operations=tuple(AddOp(content=c) for c in contents[start : start + batch])))
    assert len(env.bank) == size, len(env.bank)
    return env


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000], help="bank sizes")
    parser.add_argument("--repeats", type=int, default=200, help="clone timings per size (median reported)")
    parser.add_argument("--deepcopy-repeats", type=int, default=5, help="deepcopy timings per size")
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 100 10000, 20 / 1 repeats")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.deepcopy_repeats = [100, 10000], 20, 1
    rows = []
    for size in args.sizes:
        env = filled_env(size)
        clone = median_seconds(env.clone, args.repeats)
        deep = median_seconds(lambda: copy.deepcopy(env), args.deepcopy_repeats)
        rows.append((size, clone, deep))
    print(f"{'entries':>8} {'clone (us)':>12} {'deepcopy (ms)':>14} {'deepcopy/clone':>15}")
    for size, clone, deep in rows:
        print(f"{size:>8} {clone * 1e6:>12.1f} {deep * 1e3:>14.2f} {deep / clone:>15.0f}")
    (small, small_clone, _), (large, large_clone, large_deep) = rows[0], rows[-1]
    growth, speedup = large_clone / small_clone, large_deep / large_clone
    print(f"clone({large}) / clone({small}) = {growth:.2f}  (goal <= 2: {'met' if growth <= 2 else 'MISSED'})")
    print(f"deepcopy / clone at {large} = {speedup:.0f}  (goal >= 100: {'met' if speedup >= 100 else 'MISSED'})")


if __name__ == "__main__":
    main()
