"""Rerun a result from its recorded command and report where the new result drifts from the old one.

A result file records the exact ``memr2`` command that made it (:mod:`memr2.runtime`). :func:`rerun_argv` turns
that command into one that writes into a scratch folder instead of the original run directory, and
:func:`drift` compares two results field by field, leaving out what legitimately differs between two runs of the
same computation: timing, the time stamp, the run's own paths and name, and the machine description. ``memr2
study --verify N`` and the reproduction test use both.
"""

from __future__ import annotations

import math
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from memr2.results import RunResult, read_result

#: Top-level fields that differ between two runs of one computation (when, how long, where, on what).
RUN_FIELDS = ("created_at", "wall_time_s", "run_name", "command", "commit", "dirty", "versions", "platform",
              "torch_threads", "record_sha256")
#: Flags about the original run's files (name -> number of values), replaced or dropped in a rerun.
RUN_FILE_FLAGS = {"--output-dir": 1, "--results-dir": 1, "--resume": 1, "--save-trajectories": 1, "--run-name": 1,
                  "--overwrite": 0}
RERUNNABLE = ("train", "eval")
#: Keys that hold timings wherever they appear (an episode's wall time, a run's).
TIMING_KEYS = ("wall_time_s", "request_seconds")


def rerun_argv(command: str, output_dir: str | Path) -> list[str]:
    """The ``memr2`` arguments that redo ``command`` into ``output_dir`` (run name ``rerun``).

    A resumed run is redone from the start: ``--resume DIR`` only loaded the config the same flags make.

    >>> rerun_argv("memr2 train --config c.yaml --seed 3 --output-dir runs/x --results-dir=r --resume runs/x", "/tmp/o")
    ['train', '--config', 'c.yaml', '--seed', '3', '--output-dir', '/tmp/o', '--run-name', 'rerun']
    """
    words = shlex.split(command)
    if len(words) < 2 or words[0] != "memr2" or words[1] not in RERUNNABLE:
        raise ValueError(f"not a rerunnable memr2 command (memr2 {' | '.join(RERUNNABLE)} ...): {command!r}")
    kept, skip = [], 0
    for word in words[1:]:
        if skip:
            skip -= 1
            continue
        flag = word.split("=", 1)[0]
        if flag in RUN_FILE_FLAGS:
            skip = 0 if "=" in word else RUN_FILE_FLAGS[flag]
            continue
        kept.append(word)
    return [*kept, "--output-dir", str(output_dir), "--run-name", "rerun"]


def _differences(old: Any, new: Any, where: str, rel_tol: float) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key in TIMING_KEYS:
                continue
            if key not in old or key not in new:
                out.append(f"{where}.{key}: only in the {'new' if key in new else 'old'} result")
            else:
                out += _differences(old[key], new[key], f"{where}.{key}", rel_tol)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} items, now {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in _differences(a, b, f"{where}[{i}]", rel_tol)]
    if isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        same = math.isclose(old, new, rel_tol=rel_tol, abs_tol=rel_tol) if rel_tol else old == new
        return [] if same else [f"{where}: {old!r} -> {new!r}"]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def drift(old: RunResult, new: RunResult, *, rel_tol: float = 0.0) -> list[str]:
    """Every difference between two results of one computation, as ``path: old -> new`` lines (empty: the
    rerun reproduced it). :data:`RUN_FIELDS` and :data:`TIMING_KEYS` (at any depth) are left out; a top-level
    field the old result lacks (None: written before the field existed) is not compared, and a training config
    field that it lacks counts as its default. ``rel_tol`` > 0 lets floats differ by that much."""
    exclude = set(RUN_FIELDS)
    before, after = old.model_dump(mode="json", exclude=exclude), new.model_dump(mode="json", exclude=exclude)
    for name in [k for k, v in before.items() if v is None and after.get(k) is not None]:
        del before[name], after[name]  # a field the old result lacks: it was written before the field existed
    if before.get("config") is not None and after.get("config") is not None:  # a field added since ran at its default
        from algorithms.config import TrainerConfig

        defaults = TrainerConfig.defaults()
        before["config"], after["config"] = {**defaults, **before["config"]}, {**defaults, **after["config"]}
    return _differences(before, after, "result", rel_tol)


def rerun(argv: list[str], output_dir: str | Path) -> RunResult:
    """Run ``memr2 ARGV`` (from :func:`rerun_argv`, writing into ``output_dir``) in a subprocess and return the new
    result; its output goes to ``<output_dir>.log``. A training rerun replaces an earlier one there. A failed rerun
    is a ``ValueError`` naming its log."""
    output_dir = Path(output_dir)
    log = output_dir.with_name(f"{output_dir.name}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        status = subprocess.run([sys.executable, "-m", "memr2", *argv, *(["--overwrite"] if argv[0] == "train" else [])],
                                stdout=handle, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise ValueError(f"the rerun failed (exit {status}): see {log}")
    return read_result(output_dir / "rerun.json")


def print_report(report: dict[str, list[str]], what: str) -> int:
    """Print each rerun's name as "reproduced" or "DRIFT" with (up to 20 of) its differences, then a summary line
    counting ``what`` (e.g. "cell(s)"); return how many drifted."""
    for name, problems in report.items():
        print(f"{'reproduced' if not problems else 'DRIFT'} {name}")
        for line in problems[:20]:
            print(f"    {line}")
        if len(problems) > 20:
            print(f"    ... and {len(problems) - 20} more differences")
    drifted = sum(bool(p) for p in report.values())
    print(f"{len(report)} {what} rerun, {len(report) - drifted} reproduced, {drifted} drifted")
    return drifted

