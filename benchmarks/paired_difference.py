"""Paired difference of test scores between two sets of training runs that share training seeds.

    python benchmarks/paired_difference.py 'leaderboards/results/synthetic-v1-8__logo__feature__seed*.json' \
        'leaderboards/results/synthetic-v1-8__grpo__feature__seed*.json'

Runs are paired by ``config.seed``; prints each pair, then the mean difference (A - B) with its 95 % bootstrap CI.
"""

from __future__ import annotations

import argparse
import glob

from memr2.results import read_result
from memr2.stats import bootstrap_ci


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
    parser.add_argument("a", help="glob of result files (A)")
    parser.add_argument("b", help="glob of result files (B)")
    args = parser.parse_args()
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
