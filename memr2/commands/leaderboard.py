"""``memr2 leaderboard``: regenerate the leaderboard tables and plots from result files.

In the memory-r2 checkout the defaults regenerate the repository's generated files; anywhere else (local mode,
:mod:`memr2.workspace`) only files under ``--out``'s folder are written unless ``--readme`` names a file to splice.
Everything is read and checked before the first file is written, so a bad README or study config writes nothing.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from memr2.results import RunResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="regenerate leaderboard tables/plots from result JSON files",
        description="Read --results/*.json and write the tables (--out) and the curves plot next to it. In the "
        "memory-r2 checkout the defaults also replace the results and study sections of README.md and write the "
        "study report (leaderboards/study.md); elsewhere nothing outside --out's folder is written unless "
        "--readme names a file. Nothing in them is typed by hand.",
    )
    parser.add_argument("--results", default="leaderboards/results", help="folder of result JSON files "
                        "(default: %(default)s)")
    parser.add_argument("--out", default="leaderboards/README.md",
                        help="markdown file to write, or a folder (then FOLDER/README.md); the plots and the study "
                        "report go next to it (default: %(default)s)")
    parser.add_argument("--readme", default=None, help="a README whose results (and study) section is replaced "
                        "('' to skip; default: README.md in the checkout, none elsewhere)")
    parser.add_argument("--study", default=None,
                        help="study config whose report (study.md and figures next to --out) is regenerated from its "
                        "results folder ('' to skip; default: configs/study-v2.yaml in the checkout, none "
                        "elsewhere)")
    parser.add_argument("--baselines", action="store_true",
                        help="add the committed baseline rows (reference agents' eval results shipped with memory-r2; "
                        "$MEMR2_BASELINES overrides where they are read) to the tables and the study report")
    parser.set_defaults(func=run)


@dataclass
class Plan:
    """What one ``memr2 leaderboard`` writes, resolved and checked before anything is written."""

    results: list[RunResult]
    out: Path
    readme: Path | None
    readme_text: str | None
    study: object | None  # StudyConfig
    study_path: str | None
    baselines: list[RunResult]
    probes: list = field(default_factory=list)  # judge probes shown beside J (leaderboards/judges/)


def resolve_out(out: str) -> Path:
    """``--out`` as the markdown file: a folder (existing, or named without a suffix) means FOLDER/README.md."""
    path = Path(out)
    return path / "README.md" if path.is_dir() or not path.suffix else path


def plan_report(args: argparse.Namespace) -> Plan:
    """Read the results, the README and the study config and check them (markers present, config valid);
    ``ValueError`` / ``FileNotFoundError`` before any file is written."""
    from memr2.leaderboard import END, START, load_probes, load_results
    from memr2.study import STUDY_END, STUDY_START, StudyConfig
    from memr2.workspace import DEFAULT_STUDY, in_checkout, load_baselines, merge_results

    checkout = in_checkout()
    results_dir = Path(args.results)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"no results folder {results_dir} (give --results DIR)")
    baselines = load_baselines() if args.baselines else []
    results = merge_results(load_results(results_dir), baselines)
    readme_name = args.readme if args.readme is not None else ("README.md" if checkout else "")
    study_name = args.study if args.study is not None else (DEFAULT_STUDY if checkout else "")
    study = StudyConfig.from_file(study_name) if study_name else None
    readme, text = (Path(readme_name), None) if readme_name else (None, None)
    if readme is not None:
        if not readme.is_file():
            raise FileNotFoundError(f"--readme {readme}: no such file ('' skips the README)")
        text = readme.read_text(encoding="utf-8")
        markers = [START, END] + ([STUDY_START, STUDY_END] if study else [])
        missing = [m for m in markers if m not in text]
        if missing:
            raise ValueError(f"--readme {readme} has no {' '.join(missing)} markers to fill ('' skips the README)")
    probes = load_probes(results_dir.parent / "judges")
    return Plan(results, resolve_out(args.out), readme, text, study, study_name or None, baselines, probes)


def write_study_report(plan: Plan, readme_text: str | None) -> str | None:
    """The study's report (markdown and figures, from its result files) next to ``plan.out``; returns the README
    text with its study section replaced (None when there is no README or no result yet)."""
    from memr2.leaderboard import splice
    from memr2.study import STUDY_END, STUDY_START
    from memr2.study_report import headline_table, load_study, plot_study, render_study, study_baselines

    study, out_dir = plan.study, plan.out.parent
    results = load_study(study)
    figures = plot_study(study, results, out_dir)
    report = out_dir / "study.md"
    report.write_text(
        f"# Study `{study.name}`\n\nGenerated by `memr2 leaderboard` from `{study.results_dir}/*.json` "
        f"({plan.study_path}); do not edit by hand. docs/study.md explains the protocol and reads the results.\n\n"
        + render_study(study, results, [f.name for f in figures], study_baselines(study, plan.baselines)) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {report} ({len(results)} study runs)" + "".join(f" and {f}" for f in figures))
    if readme_text is None or not results:
        return None
    headline = headline_table(study, results) + "".join(
        f"\n\n![{f.stem}]({out_dir.as_posix()}/{f.name})" for f in figures)
    return splice(readme_text, headline, STUDY_START, STUDY_END)


def run(args: argparse.Namespace) -> int:
    from memr2.leaderboard import plot_curves, render_markdown, splice

    plan = plan_report(args)
    out, results = plan.out, plan.results
    out.parent.mkdir(parents=True, exist_ok=True)
    plot = plot_curves(results, out.parent / "curves.png")
    out.write_text(
        "# Leaderboard\n\nGenerated by `memr2 leaderboard` from `results/*.json`; do not edit by hand."
        + (" The credit-assignment study has its own report: [study.md](study.md)." if plan.study else "") + "\n\n"
        + render_markdown(results, plot.name if plot else None, plan.probes) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out} ({len(results)} runs)" + (f" and {plot}" if plot else ""))
    text = plan.readme_text
    if text is not None:
        relative = f"{out.parent.as_posix()}/{plot.name}" if plot else None
        text = splice(text, render_markdown(results, relative, plan.probes))
    if plan.study is not None:
        text = write_study_report(plan, text) or text
    if plan.readme is not None:
        plan.readme.write_text(text, encoding="utf-8")
        print(f"updated the results{' and study sections' if plan.study else ' section'} of {plan.readme}")
    return 0
