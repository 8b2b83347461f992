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

from algorithms.metrics import DIAGNOSTICS, diagnostics_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories holding metrics.jsonl")
    parser.add_argument("--window", type=int, default=5, help="iterations averaged at the start and at the end")
    args = parser.parse_args()
    print(f"{'run':44s}" + "".join(f"{name:>24s}" for name in DIAGNOSTICS))
    print(f"{'':44s}" + "".join(f"{'start -> end':>24s}" for _ in DIAGNOSTICS))
    totals: dict[str, list[tuple[float, float]]] = {name: [] for name in DIAGNOSTICS}
    for run in args.runs:
        records = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
        cells = []
        for name, cell in diagnostics_summary(records, args.window).items():
            a, b = cell["start"], cell["end"]
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
