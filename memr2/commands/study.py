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
    parser.add_argument("--config", default="configs/study-v2.yaml", help="study YAML (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel worker processes (default: every core, %(default)s)")
    parser.add_argument("--only", default=None, help="run only the cells whose name contains this text")
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their commands, run nothing")
    parser.add_argument("--no-report", action="store_true", help="do not write the report afterwards")
    parser.add_argument("--out", default=None,
                        help="folder for the study's report (study.md and figures). Default: in the memory-r2 "
                        "checkout, for the leaderboard's study (configs/study-v2.yaml) the whole leaderboard is "
                        "regenerated with its report (`memr2 leaderboard --study CONFIG`) and any other study's report "
                        "goes to leaderboards/<study name>/; elsewhere the report goes to the study's results_dir")
    parser.add_argument("--baselines", action="store_true",
                        help="add the committed baseline rows (reference agents' results) to the report")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--verify", type=int, default=None, metavar="N",
                        help="rerun the first N finished training cells (with --only: those matching) into a scratch "
                        "folder and report any drift from their result files; runs nothing else")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="run training cells although tracked files have uncommitted changes (their results "
                        "record dirty: true and cannot be reproduced from their commit)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex

    from memr2.study import StudyConfig, check_study, command, is_done, plan, run_study

    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: give at least 1")
    study = StudyConfig.from_file(args.config)
    check_study(study)  # estimators, references and the trainer config, before any cell runs
    if args.baselines and not args.no_report:
        from memr2.workspace import load_baselines

        load_baselines()  # found now, not after the cells ran
    if args.dry_run:
        for cell in plan(study):
            if args.only is None or args.only in cell.name:
                state = "done" if is_done(study, cell) else "todo"
                print(f"{state} {cell.name}: {shlex.join(command(study, cell)[1:])}")
        return 0
    if args.verify is not None:
        return verify(study, args)
    from memr2.runtime import git_state

    commit, dirty = git_state()
    if dirty and not args.allow_dirty:
        raise ValueError(f"tracked files differ from commit {commit[:7]}: a study's results must come from committed "
                         "code (commit, or pass --allow-dirty for results marked dirty)")
    tree = None if args.allow_dirty else (commit, dirty)  # a clean start: every cell must start from it too
    failed = run_study(study, workers=args.workers, only=args.only, progress=not args.no_progress, tree=tree)
    if not args.no_report:
        write_report(args, study)
    if failed:
        print(f"{failed} cell(s) failed; rerun the same command to retry them (finished cells are skipped)")
    return 1 if failed else 0


def verify(study, args: argparse.Namespace) -> int:
    """``--verify N``: rerun N finished cells and print, per cell, "reproduced" or each field that drifted."""
    from memr2.reproduce import print_report
    from memr2.study import verify_cells

    if args.verify < 1:
        raise ValueError(f"--verify {args.verify}: give at least 1 cell")
    report = verify_cells(study, args.verify, only=args.only)
    drifted = print_report(report, "cell(s)")
    if not report:
        print("no finished training cell matched")
    return 1 if drifted or not report else 0


def write_report(args: argparse.Namespace, study) -> None:
    """In the checkout without ``--out``, for the leaderboard's own study (``DEFAULT_STUDY``): the whole
    leaderboard, this study's report included, as ``memr2 leaderboard --study CONFIG`` writes it; any other study's
    report alone into ``leaderboards/<name>/`` (it must not replace the leaderboard's study report). Elsewhere (or
    with ``--out``): the study's report alone, into ``--out`` or the study's results folder, and nothing outside it
    (docs/study.md, "Your own study")."""
    from pathlib import Path

    from memr2.commands import leaderboard
    from memr2.commands.leaderboard import Plan, write_study_report
    from memr2.workspace import DEFAULT_STUDY, checkout_root, in_checkout, load_baselines

    checkout = args.out is None and in_checkout()
    if checkout and Path(args.config).resolve() == checkout_root() / DEFAULT_STUDY:
        parser = argparse.ArgumentParser(prog="memr2")  # the command's own parser: no cycle back through memr2.cli
        leaderboard.register(parser.add_subparsers())
        report = parser.parse_args(["leaderboard", "--study", args.config] + (["--baselines"] if args.baselines else []))
        report.func(report)
        return
    folder = Path(args.out or (Path("leaderboards") / study.name if checkout else study.results_dir))
    folder.mkdir(parents=True, exist_ok=True)
    baselines = load_baselines() if args.baselines else []
    write_study_report(Plan([], folder / "README.md", None, None, study, args.config, baselines), None)
