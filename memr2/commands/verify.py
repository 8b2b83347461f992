"""``memr2 verify``: rerun result files from the commands they record and report any drift.

For your own results before you commit them ("rerun once from that record"): it runs the ``memr2 train`` /
``memr2 eval`` command a file records, so give it only files you made -- a result file from someone else is
untrusted input, and its command could name any agent. ``memr2 study --verify N`` does the same for a study's cells
from the study's own plan.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="rerun your result files from their recorded commands and report drift",
        description="Rerun each result file's recorded memr2 train / eval command into a scratch folder and compare "
        "every field but timing and provenance. Exit 1 if any file drifted. Only for result files you made.",
    )
    parser.add_argument("results", nargs="+", help="result JSON files")
    parser.add_argument("--scratch", default="runs/verify", help="where the reruns go (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from memr2.reproduce import drift, print_report, rerun, rerun_argv
    from memr2.results import read_result

    report = {}
    for path in args.results:
        old = read_result(path)
        if not old.command:
            raise ValueError(f"{path} records no command: it cannot be rerun")
        scratch = Path(args.scratch) / Path(path).stem
        try:
            report[path] = drift(old, rerun(rerun_argv(old.command, scratch), scratch))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return 1 if print_report(report, "file(s)") else 0
