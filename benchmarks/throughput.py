"""End-to-end training throughput of the study's training cell, against a baseline revision in the same run.

The cell is what ``memr2 study`` runs: ``memr2 train --config configs/synthetic-v1-feature.yaml --estimator E
--curriculum H --env-steps-per-stage N --eval-every K`` (FeaturePolicy, all-MiniLM-L6-v2 similarity), one torch
thread (``OMP_NUM_THREADS=1``). Its throughput is the env steps it takes (rollouts and local rerollouts, as the
budget counts them) divided by the wall time of the whole command: start-up, rollouts, updates, validations,
checkpoints and the final test, all included. It is reported per CPU second of the command (user + system time of
the subprocess; the cell runs on one thread, so on an idle core this is its wall time, and on a shared machine it
does not count the time spent waiting for a core) and per wall second; "loop x" is the ratio over the training
iterations alone (``perf/wall_time_s`` of each iteration: rollouts and updates, no start-up, validation or test).

Every cell runs as a subprocess, in turn: the baseline (``--baseline``, default 6a013e2, exported to a temporary
folder and imported from there), this tree with an empty embedding store (*cold*: the first cell of a study),
this tree again with a store filled (untimed) by the same cell at training seed 1 (*warm*: every later cell of
a study, which trains, validates and tests on the same conversations with another policy), and the baseline
again -- so a change in machine load shifts both sides alike; the baseline's two runs are averaged. The
warm/baseline ratio is the study's; the cold one is a study's first cell (at each horizon).
The two runs of this tree must give identical ``metrics.jsonl`` (timing fields aside): the store changes how long
embedding takes, never what it returns; the script says so, or fails.

Usage::

    python benchmarks/throughput.py [--baseline 6a013e2] [--sessions 8 32] [--estimators grpo logo] [--env-steps 3000]
    python benchmarks/throughput.py --quick    # one small logo cell at 8 sessions (a smoke run, well under a minute)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "configs/synthetic-v1-feature.yaml"
STUDY_EVAL_EVERY = {8: 5, 16: 3, 32: 2}  # configs/study-synthetic-v1.yaml
MACHINE_KEYS = ("perf/rollout_s", "perf/wall_time_s", "perf/tokens_per_s", "perf/peak_rss_gb")  # measured, not computed


@contextlib.contextmanager
def exported_tree(revision: str):
    """The files of git revision ``revision``, exported to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="throughput-baseline-") as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        yield Path(tree)


def cell_arguments(estimator: str, sessions: int, env_steps: int, quick: bool) -> list[str]:
    """``memr2 train`` arguments of the study cell (``--quick``: one validation and one test conversation)."""
    args = ["train", "--config", CONFIG, "--estimator", estimator, "--seed", "0", "--curriculum", str(sessions),
            "--env-steps-per-stage", str(env_steps), "--iterations", "100000",
            "--eval-every", str(STUDY_EVAL_EVERY.get(sessions, 5)), "--no-progress"]
    return args + (["--eval-seeds", "100000", "--test-seeds", "200000"] if quick else [])


def comparable_metrics(path: Path) -> list[dict]:
    """The rows of a run's ``metrics.jsonl`` without what it measured of the machine (times, peak memory)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in row.items() if k not in MACHINE_KEYS} for row in rows]


def run_cell(tree: Path, arguments: list[str], store: Path, scratch: Path) -> dict:
    """Run one cell in ``tree`` (its own ``memr2`` on ``PYTHONPATH``); env steps, wall seconds and its metrics."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "MEMR2_EMBEDDING_STORE": str(store)}
    command = [sys.executable, "-m", "memr2", *arguments, "--output-dir", str(out / "run")]
    log = out / "log.txt"
    start = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command)} (in {tree}) failed:\n{log.read_text()[-4000:]}")
    lines = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    loop_s = sum(row["perf/wall_time_s"] for row in lines)  # the iterations alone: rollouts and updates
    metrics = comparable_metrics(out / "run" / "metrics.jsonl")
    result = json.loads((out / "run" / "run.json").read_text())  # the result file is named after the run directory
    steps, cpu = metrics[-1]["env_steps"], usage.ru_utime + usage.ru_stime
    return {"env_steps": steps, "wall_s": wall, "cpu_s": cpu, "per_wall_s": steps / wall, "per_cpu_s": steps / cpu,
            "per_loop_s": steps / loop_s,
            "metrics": metrics, "test_score": (result.get("test_metrics") or {}).get("score")}


def measure(baseline: Path, arguments: list[str], scratch: Path, *, fill_seed: int | None) -> dict:
    """Baseline, this tree cold, this tree warm, baseline (see the module docstring). The warm run's store is
    filled by the same cell at training seed ``fill_seed`` (another policy, as an earlier cell of a study), untimed;
    with None, by the cold run itself."""
    cold_store = Path(tempfile.mkdtemp(prefix="store-", dir=scratch))
    warm_store = cold_store if fill_seed is None else Path(tempfile.mkdtemp(prefix="store-", dir=scratch))
    first = run_cell(baseline, arguments, Path(tempfile.mkdtemp(dir=scratch)), scratch)
    cold = run_cell(ROOT, arguments, cold_store, scratch)
    if fill_seed is not None:
        seed = arguments.index("--seed") + 1
        run_cell(ROOT, arguments[:seed] + [str(fill_seed)] + arguments[seed + 1 :], warm_store, scratch)
    warm = run_cell(ROOT, arguments, warm_store, scratch)
    last = run_cell(baseline, arguments, Path(tempfile.mkdtemp(dir=scratch)), scratch)
    if cold["metrics"] != warm["metrics"]:
        raise AssertionError("this tree's cold and warm runs differ: the embedding store changed a result")
    rates = {}
    for unit in ("cpu", "wall", "loop"):
        rates[unit] = {"baseline": statistics.mean([first[f"per_{unit}_s"], last[f"per_{unit}_s"]]),
                       "cold": cold[f"per_{unit}_s"], "warm": warm[f"per_{unit}_s"]}
    return {"rates": rates, "env_steps": warm["env_steps"], "baseline_cpu_s": statistics.mean([first["cpu_s"], last["cpu_s"]]),
            "warm_cpu_s": warm["cpu_s"], "test_score": warm["test_score"], "baseline_test_score": first["test_score"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="6a013e2", metavar="REV", help="git revision to compare against")
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 32], help="horizons (curriculum of one stage)")
    parser.add_argument("--estimators", nargs="+", default=["grpo", "logo"])
    parser.add_argument("--env-steps", type=int, default=3000, help="--env-steps-per-stage of every cell")
    parser.add_argument("--quick", action="store_true", help="logo at 8 sessions, 300 env steps, 1 validation and "
                        "1 test conversation, the warm run reusing the cold run's store: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.estimators, args.env_steps = [8], ["logo"], 300
    print(f"this tree: {ROOT}; baseline: {args.baseline}; {args.env_steps} env steps per cell; OMP_NUM_THREADS=1")
    header = (f"{'cell':<10} {'steps':>6} | {'env steps per CPU s: base':>25} {'cold':>6} {'warm':>6} {'cold x':>6} "
              f"{'warm x':>6} | {'per wall s: base':>16} {'cold':>6} {'warm':>6} {'warm x':>6} | {'loop x':>6} | "
              f"{'CPU s base':>10} {'warm':>5} | {'test base':>9} {'new':>5}")
    rows = []
    with exported_tree(args.baseline) as baseline, tempfile.TemporaryDirectory(prefix="throughput-") as scratch:
        print(header)
        for sessions in args.sessions:
            for estimator in args.estimators:
                arguments = cell_arguments(estimator, sessions, args.env_steps, args.quick)
                m = measure(baseline, arguments, Path(scratch), fill_seed=None if args.quick else 1)
                rows.append(m)
                c, w = m["rates"]["cpu"], m["rates"]["wall"]
                print(f"{estimator + ' ' + str(sessions) + 's':<10} {m['env_steps']:>6} | {c['baseline']:>25.1f} "
                      f"{c['cold']:>6.1f} {c['warm']:>6.1f} {c['cold'] / c['baseline']:>6.2f} {c['warm'] / c['baseline']:>6.2f} | "
                      f"{w['baseline']:>16.1f} {w['cold']:>6.1f} {w['warm']:>6.1f} {w['warm'] / w['baseline']:>6.2f} | "
                      f"{m['rates']['loop']['warm'] / m['rates']['loop']['baseline']:>6.2f} | "
                      f"{m['baseline_cpu_s']:>10.1f} {m['warm_cpu_s']:>5.1f} | {m['baseline_test_score']:>9.3f} "
                      f"{m['test_score']:>5.3f}", flush=True)
    for unit, label in (("cpu", "per CPU second"), ("wall", "per wall second"),
                        ("loop", "per wall second of the training iterations alone (no start-up, validation, test)")):
        warm = statistics.geometric_mean([m["rates"][unit]["warm"] / m["rates"][unit]["baseline"] for m in rows])
        cold = statistics.geometric_mean([m["rates"][unit]["cold"] / m["rates"][unit]["baseline"] for m in rows])
        print(f"end-to-end env steps {label} vs {args.baseline} (geometric mean over cells): warm store {warm:.2f}x "
              f"(goal >= 3: {'met' if warm >= 3 else 'MISSED'}), cold store {cold:.2f}x")
    print("this tree's cold and warm runs gave identical metrics.jsonl in every cell (timing fields aside)")


if __name__ == "__main__":
    main()
