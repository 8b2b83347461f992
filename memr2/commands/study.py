"""``memr2 study``: run a grid of training runs in parallel (resumable), then write its report."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="run a credit-assignment study (a grid of `memr2 train` runs) and write its tables and figures",
        description="Run every unfinished cell of a study config on worker processes (a finished cell is skipped, a "
        "killed one resumes from its last checkpoint), then regenerate the leaderboard with the study's report. "
        "docs/study.md explains the protocol.",
    )
    parser.add_argument("--config", default="configs/study-synthetic-v1.yaml", help="study YAML (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel worker processes (default: every core, %(default)s)")
    parser.add_argument("--only", default=None, help="run only the cells whose name contains this text")
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their commands, run nothing")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate the leaderboard afterwards")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex

    from memr2.study import StudyConfig, command, is_done, plan, run_study

    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: give at least 1")
    study = StudyConfig.from_file(args.config)
    if args.dry_run:
        for cell in plan(study):
            if args.only is None or args.only in cell.name:
                state = "done" if is_done(study, cell) else "todo"
                print(f"{state} {cell.name}: {shlex.join(command(study, cell)[1:])}")
        return 0
    failed = run_study(study, workers=args.workers, only=args.only, progress=not args.no_progress)
    if not args.no_report:  # the whole leaderboard, this study's report included, as `memr2 leaderboard` does
        from memr2.cli import build_parser

        report = build_parser().parse_args(["leaderboard", "--study", args.config])
        report.func(report)
    if failed:
        print(f"{failed} cell(s) failed; rerun the same command to retry them (finished cells are skipped)")
    return 1 if failed else 0
