"""Per-run training diagnostics from ``metrics.jsonl``: the first and last iterations' zero-variance group
fractions (global / local), UPDATE target hit rate, UPDATEs per episode and policy entropy.

    python benchmarks/training_diagnostics.py runs/synthetic-v1/*logo*/ [--window 5]
    python benchmarks/training_diagnostics.py --quick     # a 2-iteration logo run on Synthetic-v1, diagnosed

Each cell is the mean over the first (start) or last (end) ``--window`` iterations; "-" where a run never logged
the metric (a local fraction for an estimator without local groups, a hit rate while nothing was UPDATEd).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from algorithms.metrics import DIAGNOSTICS, diagnostics_summary


def quick_run(folder: Path) -> str:
    """A 2-iteration logo training run at 2 sessions into ``folder`` (the ``--quick`` smoke run); returns it."""
    from algorithms.config import TrainerConfig
    from algorithms.trainer import Trainer

    config = TrainerConfig(env_id="MemoryR2/Synthetic-v1", estimator="logo", curriculum=[2], iterations=2,
                           eval_every=2, num_generations=2, local_num_generations=2, local_prob=1.0,
                           conversations_per_iteration=1, eval_seeds=[900])
    Trainer(config, folder, progress=False).train()
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="run directories holding metrics.jsonl")
    parser.add_argument("--window", type=int, default=5, help="iterations averaged at the start and at the end")
    parser.add_argument("--quick", action="store_true", help="smoke run: train 2 iterations, then diagnose them")
    args = parser.parse_args()
    if args.quick and not args.runs:
        with tempfile.TemporaryDirectory() as folder:
            args.runs = [quick_run(Path(folder) / "quick-logo")]
            report(args)
        return
    if not args.runs:
        parser.error("give run directories holding metrics.jsonl, or --quick")
    report(args)


def report(args: argparse.Namespace) -> None:
    """The table: one row per run, then the mean over runs."""
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
