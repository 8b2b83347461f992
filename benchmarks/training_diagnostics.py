"""Per-run training diagnostics from ``metrics.jsonl``: the first and last iterations' zero-variance group
fractions (global / local), UPDATE target hit rate, UPDATEs per episode and policy entropy.

    python benchmarks/training_diagnostics.py runs/synthetic-v1/*logo*/ [--window 5]

Each cell is the mean over the first (start) or last (end) ``--window`` iterations; "-" where a run never logged
the metric (a local fraction for an estimator without local groups, a hit rate while nothing was UPDATEd).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = {
    "zero-std global": "rollout/frac_reward_zero_std_global",
    "zero-std local": "rollout/frac_reward_zero_std_local",
    "UPDATE hit rate": "diagnostics/update_hit_rate",
    "UPDATEs/episode": "diagnostics/updates_per_episode",
    "entropy": "losses/entropy",
}


def window_mean(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if key in r]
    return sum(values) / len(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories holding metrics.jsonl")
    parser.add_argument("--window", type=int, default=5, help="iterations averaged at the start and at the end")
    args = parser.parse_args()
    print(f"{'run':44s}" + "".join(f"{name:>24s}" for name in COLUMNS))
    print(f"{'':44s}" + "".join(f"{'start -> end':>24s}" for _ in COLUMNS))
    totals: dict[str, list[tuple[float, float]]] = {name: [] for name in COLUMNS}
    for run in args.runs:
        records = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
        start, end = records[: args.window], records[-args.window :]
        cells = []
        for name, key in COLUMNS.items():
            a, b = window_mean(start, key), window_mean(end, key)
            if a is not None and b is not None:
                totals[name].append((a, b))
            cells.append("-" if a is None or b is None else f"{a:.3f} -> {b:.3f}")
        print(f"{Path(run).name[:44]:44s}" + "".join(f"{c:>24s}" for c in cells))
    means = []
    for pairs in totals.values():
        means.append("-" if not pairs else f"{sum(a for a, _ in pairs) / len(pairs):.3f} -> {sum(b for _, b in pairs) / len(pairs):.3f}")
    print(f"{'mean over runs':44s}" + "".join(f"{c:>24s}" for c in means))


if __name__ == "__main__":
    main()
