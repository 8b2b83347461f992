"""The study's report: tables (headline, every cell, paired differences) and figures (learning curves, score and
return against horizon), generated from the result files of a :class:`~memr2.study.StudyConfig` alone."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from memr2.leaderboard import Markup, ci_cell, code_cell, plot_mean_curve, table_header, table_row, train_summary
from memr2.results import RunResult, read_result
from memr2.stats import bootstrap_ci
from memr2.study import TIMING_FILE, StudyConfig, plan, reference_cell_name, train_cell_name


def load_study(study: StudyConfig) -> dict[str, RunResult]:
    """The study's result files by cell name (cells not run yet are absent)."""
    folder = Path(study.results_dir)
    return {c.name: read_result(folder / f"{c.name}.json") for c in plan(study) if (folder / f"{c.name}.json").is_file()}


def steps_to_reach(result: RunResult, target: float) -> int | None:
    """Env steps at the first validation whose score reaches ``target``; None if none does."""
    return next((p.env_steps for p in result.curve if p.score >= target), None)


def _cells(study: StudyConfig, results: dict[str, RunResult], curriculum: Sequence[int], estimator: str) -> list[RunResult]:
    names = [train_cell_name(study, curriculum, estimator, s) for s in study.seeds]
    return [results[n] for n in names if n in results]


def _reference(study: StudyConfig, results: dict[str, RunResult], agent: str, horizon: int, split: str) -> float | None:
    result = results.get(reference_cell_name(study, agent, horizon, split))
    return None if result is None else result.metrics.score


def _diagnostic(runs: Sequence[RunResult], name: str, end: str) -> str:
    values = [train_summary(r).get("diagnostics", {}).get(name, {}).get(end) for r in runs]
    values = [v for v in values if v is not None]
    return "-" if not values else f"{sum(values) / len(values):.2f}"


def headline_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """Test score, mean [95 % bootstrap CI] over training seeds, per estimator and horizon; references below."""
    lines = table_header(["estimator", *(f"{h} sessions: test score" for h in study.horizons), "seeds"])
    for estimator in study.estimators:
        cells, counts = [], set()
        for h in study.horizons:
            runs = [r for r in _cells(study, results, [h], estimator) if r.test_metrics]
            counts.add(len(runs))
            cells.append(ci_cell([r.test_metrics.score for r in runs]) if runs else "-")
        lines.append(table_row([code_cell(estimator), *cells, "/".join(map(str, sorted(counts)))]))
    for agent in study.references:
        scores = [_reference(study, results, agent, h, "test") for h in study.horizons]
        lines.append(table_row([f"{agent} (reference, no training)", *("-" if s is None else f"{s:.3f}" for s in scores), "-"]))
    return "\n".join(lines)


def cell_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """One row per (horizon, estimator): budget, scores and returns with CIs, sample efficiency, diagnostics."""
    target_name = study.references[0] if study.references else None
    lines = table_header(["horizon", "estimator", "seeds", "env steps", "iterations", "test score", "test return",
                     "validation score", f"steps to {study.threshold:.0%} of {target_name}", "zero-std global (end)",
                     "zero-std local (end)", "UPDATE hit rate (start -> end)", "wall s / seed"])
    specs = [([h], e) for h in study.horizons for e in study.estimators]
    specs += [(c.curriculum, c.estimator) for c in study.curricula]
    for curriculum, estimator in specs:
        runs = _cells(study, results, curriculum, estimator)
        if not runs:
            continue
        tested = [r for r in runs if r.test_metrics]
        reference = _reference(study, results, target_name, curriculum[-1], "validation") if target_name else None
        if reference is None:
            reach = "-"
        else:
            steps = [s for s in (steps_to_reach(r, study.threshold * reference) for r in runs) if s is not None]
            reach = f"{sorted(steps)[len(steps) // 2]} ({len(steps)}/{len(runs)} reached)" if steps else f"not reached (0/{len(runs)})"
        hits = f"{_diagnostic(runs, 'update_hit_rate', 'start')} -> {_diagnostic(runs, 'update_hit_rate', 'end')}"
        lines.append(table_row([
            Markup(" -> ".join(map(str, curriculum))), code_cell(estimator), str(len(runs)),
            str(round(sum(train_summary(r).get("env_steps", 0) for r in runs) / len(runs))),
            str(round(sum(train_summary(r).get("iterations", 0) for r in runs) / len(runs))),
            Markup(f"**{ci_cell([r.test_metrics.score for r in tested])}**") if tested else "-",
            ci_cell([train_summary(r)["test_return"] for r in tested if "test_return" in train_summary(r)]) if tested else "-",
            ci_cell([r.metrics.score for r in runs]), reach,
            _diagnostic(runs, "zero_std_global", "end"), _diagnostic(runs, "zero_std_local", "end"), Markup(hits),
            f"{sum(r.wall_time_s for r in runs) / len(runs):.0f}",
        ]))
    return "\n".join(lines)


def paired_differences(study: StudyConfig, results: dict[str, RunResult], pairs: Sequence[tuple[Sequence[int], str, Sequence[int], str]]) -> str:
    """Mean test-score difference a - b over training seeds run in both, with its 95 % bootstrap CI."""
    lines = table_header(["a", "b", "seeds", "mean a - b [95% CI]", "a wins / ties / loses"])
    for curriculum_a, a, curriculum_b, b in pairs:
        diffs = []
        for seed in study.seeds:
            ra = results.get(train_cell_name(study, curriculum_a, a, seed))
            rb = results.get(train_cell_name(study, curriculum_b, b, seed))
            if ra and rb and ra.test_metrics and rb.test_metrics:
                diffs.append(ra.test_metrics.score - rb.test_metrics.score)
        if not diffs:
            continue
        mean, low, high = bootstrap_ci(diffs)
        label = lambda c, e: Markup(f"{code_cell(e)} at {' -> '.join(map(str, c))}")  # noqa: E731
        record = f"{sum(d > 0 for d in diffs)} / {sum(d == 0 for d in diffs)} / {sum(d < 0 for d in diffs)}"
        lines.append(table_row([label(curriculum_a, a), label(curriculum_b, b), str(len(diffs)),
                           Markup(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"), record]))
    return "\n".join(lines)


def _pairs(study: StudyConfig) -> list[tuple[list[int], str, list[int], str]]:
    pairs = [([h], a, [h], b) for a, b in study.paired for h in study.horizons]
    longest = max(study.horizons)
    pairs += [(c.curriculum, c.estimator, [longest], c.estimator) for c in study.curricula if c.curriculum[-1] == longest]
    return pairs


def timing_summary(study: StudyConfig) -> str:
    path = Path(study.results_dir) / TIMING_FILE
    if not path.is_file():
        return "The runner's timing log is missing."
    runs = json.loads(path.read_text())
    wall = sum(r["wall_s"] for r in runs)
    workers = sorted({r["workers"] for r in runs})
    cpus = sorted({r["cpus"] for r in runs})
    return (f"Wall time of the whole study: **{wall / 60:.0f} min** over {len(runs)} invocation(s) of `memr2 study` "
            f"({sum(r['cells_run'] for r in runs)} cells run) on {'/'.join(map(str, workers))} worker process(es), "
            f"{'/'.join(map(str, cpus))} CPU core(s).")


def render_study(study: StudyConfig, results: dict[str, RunResult], figures: Sequence[str] = ()) -> str:
    """The study report (markdown), generated from its result files."""
    if not results:
        return f"_No results of study `{study.name}` yet: run `memr2 study`._"
    trainer = study.trainer()
    protocol = (
        f"Study `{study.name}` on {trainer.env_id} with the {trainer.policy} policy (`{study.trainer_config}`). Every "
        f"cell spends the same budget of **{study.env_steps:,} environment steps** (local rerollouts count; a "
        f"curriculum splits it equally over its stages). Checkpoints are chosen on the validation seeds "
        f"{trainer.eval_seeds[0]}-{trainer.eval_seeds[-1]}; scores are the chosen policy on the test seeds "
        f"{trainer.test_seeds[0]}-{trainer.test_seeds[-1]}, never used for choosing. Cells are mean [95 % percentile "
        f"bootstrap CI] over training seeds {study.seeds[0]}-{study.seeds[-1]}. {timing_summary(study)}"
    )
    parts = [protocol, "#### Headline: test score\n\n" + headline_table(study, results),
             "#### Every cell\n\n\"steps to\": median env steps at the first validation reaching the share of the "
             "reference's validation score (over the seeds that reached it). Diagnostics are means over the first / "
             "last 5 iterations: the share of groups whose rewards all tie (they teach nothing) and the share of "
             "UPDATEs aimed at a memory about the fact's key.\n\n" + cell_table(study, results),
             "#### Paired differences (same training seeds)\n\n" + paired_differences(study, results, _pairs(study))]
    parts += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n\n".join(parts)


def plot_study(study: StudyConfig, results: dict[str, RunResult], folder: str | os.PathLike[str]) -> list[Path]:
    """Two figures: validation learning curves (mean and 95 % band over seeds) against env steps, one panel per
    horizon; and test score and test return against horizon per estimator, with the references."""
    if not results:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    fig, axes = plt.subplots(1, len(study.horizons), figsize=(4.2 * len(study.horizons), 3.8), squeeze=False)
    for ax, horizon in zip(axes[0], study.horizons):
        specs = [([horizon], e) for e in study.estimators]
        specs += [(c.curriculum, c.estimator) for c in study.curricula if c.curriculum[-1] == horizon]
        for curriculum, estimator in specs:
            runs = [r for r in _cells(study, results, curriculum, estimator) if r.curve]
            if not runs:
                continue
            label = estimator if len(curriculum) == 1 else f"{estimator}, curriculum {'-'.join(map(str, curriculum))}"
            plot_mean_curve(ax, runs, markersize=2.5, label=label, linestyle="-" if len(curriculum) == 1 else "--")
        reference = _reference(study, results, study.references[0], horizon, "validation") if study.references else None
        if reference is not None:
            ax.axhline(study.threshold * reference, color="grey", linestyle=":", linewidth=1,
                       label=f"{study.threshold:.0%} of {study.references[0]}")
        ax.set_title(f"{horizon} sessions")
        ax.legend(fontsize=6)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation score")
    fig.suptitle(f"{study.name}: validation score (mean, 95% bootstrap band over {len(study.seeds)} seeds); a curriculum "
                 "(dashed) is validated at each stage's own horizon", fontsize=9)
    fig.tight_layout()
    curves = folder / "study_curves.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)

    fig, (score_ax, return_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, estimator in enumerate(study.estimators):
        for ax, value in ((score_ax, lambda r: r.test_metrics.score), (return_ax, lambda r: train_summary(r)["test_return"])):
            xs, means, errors = [], [], [[], []]
            for horizon in study.horizons:
                runs = [r for r in _cells(study, results, [horizon], estimator) if r.test_metrics and "test_return" in train_summary(r)]
                if runs:
                    mean, low, high = bootstrap_ci([value(r) for r in runs])
                    xs.append(horizon * (1 + 0.03 * (i - len(study.estimators) / 2)))  # dodge overlapping bars
                    means.append(mean)
                    errors[0].append(mean - low)
                    errors[1].append(high - mean)
            ax.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=estimator)
    for agent, style in zip(study.references, (":", "-.")):
        scores = [_reference(study, results, agent, h, "test") for h in study.horizons]
        score_ax.plot(study.horizons, [s if s is not None else float("nan") for s in scores], color="grey",
                      linestyle=style, label=agent)
    for ax, name in ((score_ax, "test score"), (return_ax, "test return (score - penalties)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(study.horizons, [str(h) for h in study.horizons])
        ax.set_xlabel("sessions (horizon)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    score_ax.legend(fontsize=7)
    fig.suptitle(f"{study.name}: chosen policy on the test seeds (mean, 95% bootstrap CI)", fontsize=9)
    fig.tight_layout()
    horizon_plot = folder / "study_horizons.png"
    fig.savefig(horizon_plot, dpi=110)
    plt.close(fig)
    return [curves, horizon_plot]
