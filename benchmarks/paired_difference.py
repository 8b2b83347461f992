"""Paired difference of test scores between two sets of training runs that share training seeds.

    python benchmarks/paired_difference.py 'leaderboards/results/synthetic-v1-8__logo__feature__seed*.json' \
        'leaderboards/results/synthetic-v1-8__grpo__feature__seed*.json'

Runs are paired by ``config.seed``; prints each pair, then the mean difference (A - B) with its 95 % bootstrap CI.
``--quick`` (no globs) compares the committed logo and grpo runs at 8 sessions shown above.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

from memr2.results import read_result
from memr2.stats import bootstrap_ci

RESULTS = Path(__file__).resolve().parents[1] / "leaderboards" / "results"
QUICK = (str(RESULTS / "synthetic-v1-8__logo__feature__seed*.json"), str(RESULTS / "synthetic-v1-8__grpo__feature__seed*.json"))


def by_seed(pattern: str) -> dict[int, float]:
    scores = {}
    for path in sorted(glob.glob(pattern)):
        result = read_result(path)
        if result.test_metrics is None:
            raise SystemExit(f"{path}: no test_metrics (a training run with test_seeds is needed)")
        scores[int((result.config or {}).get("seed", 0))] = result.test_metrics.score
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", help="glob of result files (A)")
    parser.add_argument("b", nargs="?", help="glob of result files (B)")
    parser.add_argument("--quick", action="store_true", help="the committed logo vs grpo runs at 8 sessions")
    args = parser.parse_args()
    if args.quick and args.a is None:
        args.a, args.b = QUICK
    if args.a is None or args.b is None:
        parser.error("give two globs of result files (A and B), or --quick")
    a, b = by_seed(args.a), by_seed(args.b)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise SystemExit("no training seed in common")
    for seed in seeds:
        print(f"seed {seed}: A {a[seed]:.3f}  B {b[seed]:.3f}  A-B {a[seed] - b[seed]:+.3f}")
    mean, low, high = bootstrap_ci([a[s] - b[s] for s in seeds])
    print(f"A - B over {len(seeds)} paired seeds: {mean:+.3f} [95% bootstrap CI {low:+.3f}, {high:+.3f}]")


if __name__ == "__main__":
    main()
