"""The study's report: tables (headline, every cell, paired differences) and figures (learning curves, score and
return against horizon), generated from the result files of a :class:`~memr2.study.StudyConfig` alone."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memr2.leaderboard import Markup, ci_cell, code_cell, eval_table, plot_mean_curve, table_header, table_row, train_summary
from memr2.results import RunResult, read_result
from memr2.stats import bootstrap_ci
from memr2.study import TIMING_FILE, StudyConfig, plan, reference_cell_name, start_cell_name, train_cell_name


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


def estimator_label(runs: Sequence[RunResult], spec: str) -> str:
    """How a cell's estimator is named in the report: a ``module:factory`` spec by the name its factory gave the
    :class:`~algorithms.estimators.Estimator` (recorded by its runs), a built-in by its own name."""
    names = {train_summary(r).get("estimator_name") for r in runs} - {None}
    return names.pop() if ":" in spec and len(names) == 1 else spec


def _reference(study: StudyConfig, results: dict[str, RunResult], agent: str, horizon: int, split: str) -> float | None:
    result = results.get(reference_cell_name(study, agent, horizon, split))
    return None if result is None else result.metrics.score


def _diagnostic(runs: Sequence[RunResult], name: str, end: str) -> str:
    values = [train_summary(r).get("diagnostics", {}).get(name, {}).get(end) for r in runs]
    values = [v for v in values if v is not None]
    return "-" if not values else f"{sum(values) / len(values):.2f}"


def _mean_of(values: Sequence[float | None], pattern: str) -> str:
    """The mean of the values that are there (older result files lack newer fields), or "-"."""
    present = [v for v in values if v is not None]
    return pattern.format(sum(present) / len(present)) if present else "-"


def headline_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """Test score, mean [95 % bootstrap CI] over training seeds, per estimator and horizon; references below."""
    lines = table_header(["estimator", *(f"{h} sessions: test score" for h in study.horizons), "seeds"])
    for estimator in study.estimators:
        cells, counts = [], set()
        for h in study.horizons:
            runs = [r for r in _cells(study, results, [h], estimator) if r.test_metrics]
            counts.add(len(runs))
            cells.append(ci_cell([r.test_metrics.score for r in runs]) if runs else "-")
        label = estimator_label([r for h in study.horizons for r in _cells(study, results, [h], estimator)], estimator)
        lines.append(table_row([code_cell(label), *cells, "/".join(map(str, sorted(counts)))]))
    for agent in study.references:
        scores = [_reference(study, results, agent, h, "test") for h in study.horizons]
        lines.append(table_row([f"{agent} (reference, no training)", *("-" if s is None else f"{s:.3f}" for s in scores), "-"]))
    return "\n".join(lines)


def cell_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """One row per (horizon, estimator): budget, scores and returns with CIs, sample efficiency, diagnostics."""
    target_name = study.references[0] if study.references else None
    lines = table_header(["horizon", "estimator", "seeds", "env steps", "iterations", "optimizer updates",
                     "test score", "final-iterate test score", "test return", "validation score", f"steps to {study.threshold:.0%} of {target_name}", "zero-std global (end)",
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
            Markup(" -> ".join(map(str, curriculum))), code_cell(estimator_label(runs, estimator)), str(len(runs)),
            str(round(sum(train_summary(r).get("env_steps", 0) for r in runs) / len(runs))),
            str(round(sum(train_summary(r).get("iterations", 0) for r in runs) / len(runs))),
            _mean_of([train_summary(r).get("optimizer_updates") for r in runs], "{:.0f}"),
            Markup(f"**{ci_cell([r.test_metrics.score for r in tested])}**") if tested else "-",
            ci_cell(finals) if (finals := [r.final_test_metrics.score for r in runs if r.final_test_metrics]) else "-",
            ci_cell(returns) if (returns := [train_summary(r)["test_return"] for r in tested if "test_return" in train_summary(r)]) else "-",
            ci_cell([r.metrics.score for r in runs]), reach,
            _diagnostic(runs, "zero_std_global", "end"), _diagnostic(runs, "zero_std_local", "end"), Markup(hits),
            f"{sum(r.wall_time_s for r in runs) / len(runs):.0f}",
        ]))
    return "\n".join(lines)


def paired_differences(study: StudyConfig, results: dict[str, RunResult], pairs: Sequence[tuple[Sequence[int], str, Sequence[int], str]],
                       *, alpha: float = 0.05, effect: float = 0.05) -> str:
    """Test-score differences a - b over the training seeds run in both, corrected for the number of comparisons.

    Per pair: the mean and its 95 % bootstrap CI; a sign-flip p-value, Holm-adjusted over every pair of the table;
    the bootstrap CI at the pair's Holm level (1 - alpha / (m - rank + 1)); and the power side: the standard
    deviation of the per-seed differences, the minimal difference these seeds detect with 80 % power at Holm's
    strictest level (alpha / m), and the seeds that would detect ``effect`` there.
    """
    from memr2.stats import holm, holm_levels, minimal_detectable_effect, seeds_needed, sign_flip_p_value

    label = lambda c, e: Markup(f"{code_cell(e)} at {' -> '.join(map(str, c))}")  # noqa: E731
    rows = []
    for curriculum_a, a, curriculum_b, b in pairs:
        diffs = []
        for seed in study.seeds:
            ra = results.get(train_cell_name(study, curriculum_a, a, seed))
            rb = results.get(train_cell_name(study, curriculum_b, b, seed))
            if ra and rb and ra.test_metrics and rb.test_metrics:
                diffs.append(ra.test_metrics.score - rb.test_metrics.score)
        if diffs:
            rows.append((label(curriculum_a, a), label(curriculum_b, b), diffs, sign_flip_p_value(diffs)))
    header = ["a", "b", "seeds", "mean a - b [95% CI]", "Holm p", "CI at Holm level", "a wins / ties / loses",
              "SD of a - b", f"detectable (80% power, alpha/{len(rows)})", f"seeds for {effect}"]
    lines = table_header(header)
    adjusted, levels = holm([r[3] for r in rows]), holm_levels([r[3] for r in rows], alpha)
    strict = alpha / max(len(rows), 1)
    for (a, b, diffs, _), p, level in zip(rows, adjusted, levels):
        mean, low, high = bootstrap_ci(diffs)
        _, holm_low, holm_high = bootstrap_ci(diffs, confidence=level)
        sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
        power = ([f"{sd:.3f}", f"{minimal_detectable_effect(sd, len(diffs), alpha=strict):.3f}",
                  str(seeds_needed(sd, effect, alpha=strict))] if len(diffs) > 1 else ["-", "-", "-"])
        lines.append(table_row([
            a, b, str(len(diffs)), Markup(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"),
            Markup(f"**{p:.3f}**") if p < alpha else f"{p:.3f}", Markup(f"[{holm_low:+.3f}, {holm_high:+.3f}] ({level:.1%})"),
            f"{sum(d > 0 for d in diffs)} / {sum(d == 0 for d in diffs)} / {sum(d < 0 for d in diffs)}", *power,
        ]))
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


def start_table(study: StudyConfig, results: dict[str, RunResult], alpha: float = 0.05) -> str:
    """How far training moved each estimator from each start (``study.starts``) on the test seeds.

    Per horizon, start and estimator: the start's test score, the trained (chosen-checkpoint) and final-iterate test
    scores, and trained - start as mean [Student-t CI] over training seeds (the start is one fixed policy, so the
    interval is over training seeds; the test conversations are the same for all). The intervals are Bonferroni-
    corrected over the m estimators measured from a start (level 1 - alpha / m), and the verdict is that interval's
    lower end above 0: at 5 seeds per estimator the exact sign-flip test cannot go below p = 1/32, so it is shown,
    Holm-adjusted over the table, beside the verdict rather than deciding it. A last row per start pools every
    estimator's runs: "does RL from this start help at all".
    """
    from memr2.stats import holm, one_sided_p_value, t_interval

    pooled = f"all {len(study.estimators)} (pooled)"
    rows = []
    for horizon, start, estimator in itertools.product(study.horizons, study.starts, [*study.estimators, pooled]):
        begin = results.get(start_cell_name(study, start.label, horizon))
        if estimator == pooled and len(study.estimators) < 2:
            continue
        group = study.estimators if estimator == pooled else [estimator]
        runs = [r for e in group for r in _cells(study, results, [horizon], e) if r.test_metrics]
        if begin is None or not runs:
            continue
        gains = [r.test_metrics.score - begin.metrics.score for r in runs]
        rows.append((horizon, start.label, estimator, begin.metrics.score, runs, gains, one_sided_p_value(gains)))
    confidence = 1 - alpha / len(study.estimators)
    lines = table_header(["horizon", "start", "start's test score", "estimator", "trained", "final iterate",
                          f"trained - start [{confidence:.2%} t CI]", "sign-flip Holm p", "above the start"])
    for (horizon, label, estimator, begin, runs, gains, _), p in zip(rows, holm([r[-1] for r in rows])):
        interval, above = "-", False
        if len(gains) > 1:
            mean, low, high = t_interval(gains, confidence)
            interval, above = Markup(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"), low > 0
        finals = [r.final_test_metrics.score if r.final_test_metrics else None for r in runs]
        lines.append(table_row([str(horizon), code_cell(label), f"{begin:.3f}", code_cell(estimator),
                                ci_cell([r.test_metrics.score for r in runs]), _mean_of(finals, "{:.3f}"), interval,
                                f"{p:.3f}", Markup("**yes**") if above else "no"]))
    return "\n".join(lines)


def floor_table(study: StudyConfig, results: dict[str, RunResult], alpha: float = 0.05) -> str:
    """Does each estimator's chosen policy beat the floor (a non-privileged scripted agent) on the test seeds?

    Per estimator and horizon: the floor's test score, the trained policies' mean minus it [95 % CI] over seeds, a
    one-sided sign-flip p-value that the mean exceeds the floor, Holm-adjusted over the table, and the verdict.
    """
    from memr2.stats import holm, one_sided_p_value

    rows = []
    for horizon, estimator in itertools.product(study.horizons, study.estimators):
        floor = _reference(study, results, study.floor, horizon, "test")
        runs = [r for r in _cells(study, results, [horizon], estimator) if r.test_metrics]
        if floor is None or not runs:
            continue
        margins = [r.test_metrics.score - floor for r in runs]
        rows.append((horizon, estimator, floor, margins, one_sided_p_value(margins)))
    lines = table_header(["horizon", "estimator", f"{code_cell(study.floor)} (floor)", "trained - floor [95% CI]", "Holm p",
                          "beats the floor"])
    for (horizon, estimator, floor, margins, _), p in zip(rows, holm([r[4] for r in rows])):
        mean, low, high = bootstrap_ci(margins)
        label = estimator_label(_cells(study, results, [horizon], estimator), estimator)
        lines.append(table_row([str(horizon), code_cell(label), f"{floor:.3f}", Markup(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"),
                                f"{p:.3f}", Markup("**yes**") if p < alpha and mean > 0 else "no"]))
    return "\n".join(lines)


def sweep_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """A learning-rate sweep: per horizon, estimator and rate, the chosen checkpoint's validation score (the only
    score a choice may use), mean [95 % CI] over seeds; the best rate of each row in bold."""
    lines = table_header(["horizon", "estimator", *(f"lr {r:g}" for r in study.learning_rates), "chosen", "seeds"])
    for horizon, estimator in itertools.product(study.horizons, study.estimators):
        scores = {}
        for rate in study.learning_rates:
            runs = [results[n] for n in (train_cell_name(study, [horizon], estimator, s, rate) for s in study.seeds)
                    if n in results]
            if runs:
                scores[rate] = [r.metrics.score for r in runs]
        if not scores:
            continue
        best = max(scores, key=lambda r: (sum(scores[r]) / len(scores[r]), -r))  # ties: the smaller rate
        cells = [Markup(("**{}**" if rate == best else "{}").format(ci_cell(scores[rate]))) if rate in scores else "-"
                 for rate in study.learning_rates]
        seeds = "/".join(sorted({str(len(v)) for v in scores.values()}))
        lines.append(table_row([str(horizon), code_cell(estimator), *cells, f"{best:g}", seeds]))
    return "\n".join(lines)


def study_baselines(study: StudyConfig, baselines: Sequence[RunResult]) -> list[RunResult]:
    """The committed baseline rows on the study's environment at its horizons (``memr2 leaderboard --baselines``)."""
    if not baselines:
        return []
    env_id, horizons = study.trainer().env_id, set(study.horizons)
    return [r for r in baselines if r.env_id == env_id and r.env_kwargs.get("max_sessions") in horizons]


def render_study(study: StudyConfig, results: dict[str, RunResult], figures: Sequence[str] = (),
                 baselines: Sequence[RunResult] = ()) -> str:
    """The study report (markdown), generated from its result files; ``baselines`` (committed reference rows, see
    :func:`study_baselines`) get a table of their own, since they ran on their protocol's seeds, not the study's."""
    if not results:
        return f"_No results of study `{study.name}` yet: run `memr2 study`._"
    trainer = study.trainer()
    protocol = (
        f"Study `{study.name}` on {trainer.env_id} with the {trainer.policy} policy (`{study.trainer_config}`). Every "
        f"cell spends the same budget of **{study.budget_text()}** (local rerollouts count; a "
        f"curriculum splits it equally over its stages). "
        + (f"Checkpoints are chosen on the validation seeds {trainer.eval_seeds[0]}-{trainer.eval_seeds[-1]}; "
           "scores are the chosen policy" if trainer.load_best_model_at_end else
           f"No checkpoint is chosen (`load_best_model_at_end: false`): scores are the last iteration's policy, and "
           f"the validation seeds {trainer.eval_seeds[0]}-{trainer.eval_seeds[-1]} only draw the curves; the "
           "\"trained\" and \"final iterate\" columns are the same policy")
        + f" on the test seeds "
        f"{trainer.test_seeds[0]}-{trainer.test_seeds[-1]}, never used for choosing. Cells are mean [95 % percentile "
        f"bootstrap CI] over training seeds {study.seeds[0]}-{study.seeds[-1]}. {timing_summary(study)}"
    )
    if len(study.seeds) < 10:
        protocol += (f"\n\n**{len(study.seeds)} seeds per cell are no evidence about which estimator is better.** "
                     "One training seed is one draw of a chaotic process: the same cell differs by about 0.1 from "
                     "seed to seed, so a 0.05 difference takes 30 or more seeds to tell from noise (the power columns "
                     "below; docs/study.md). These numbers show that the pipeline runs, not a finding.")
    if study.learning_rates:
        return "\n\n".join([protocol, "#### Learning-rate sweep: validation score of the chosen checkpoint\n\n"
                             "Chosen on validation seeds only; test scores of a sweep are not read.\n\n"
                             + sweep_table(study, results)])
    parts = [protocol, "#### Headline: test score\n\n" + headline_table(study, results),
             "#### Every cell\n\n\"steps to\": median env steps at the first validation reaching the share of the "
             "reference's validation score (over the seeds that reached it). Diagnostics are means over the first / "
             "last 5 iterations: the share of groups whose rewards all tie (they teach nothing) and the share of "
             "UPDATEs aimed at a memory about the fact's key.\n\n" + cell_table(study, results),
             "#### Trained against where training started\n\nEach start played on the test seeds as the trainer plays "
             "it (the starts' commands are in their result files). The verdict is the Student-t interval of trained - "
             "start over training seeds, Bonferroni-corrected over the estimators (its level is in the column's "
             "name): **yes** when its lower end is above 0. The exact sign-flip p (Holm-adjusted over the table) is "
             f"shown beside it; with {len(study.seeds)} seeds per estimator it cannot go below {0.5 ** len(study.seeds):.3f}.\n\n"
             + start_table(study, results) if study.starts else "",
             f"#### Do trained policies beat the floor?\n\nA conclusion about estimators is drawn only where the "
             f"trained policies beat `{study.floor}`, a non-privileged scripted agent, on the same test seeds.\n\n"
             + floor_table(study, results) if study.floor else "",
             "#### Paired differences (same training seeds)\n\nBold Holm p: the difference is significant at 0.05 "
             "after Holm's correction over every row of this table (sign-flip test over seeds). The power columns "
             "say how small a difference these seeds could have found. With n seeds no sign-flip p is below 2 / 2^n "
             "(0.0625 at 5 seeds), and a bootstrap CI over so few seeds is too narrow.\n\n"
             + paired_differences(study, results, _pairs(study))]
    parts = [part for part in parts if part]
    if baselines:
        parts.append("#### Committed baseline rows (their protocol's seeds, not the study's test seeds)\n\n"
                     + eval_table(baselines))
    parts += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n\n".join(parts)


def plot_study(study: StudyConfig, results: dict[str, RunResult], folder: str | os.PathLike[str]) -> list[Path]:
    """Two figures: validation learning curves (mean and 95 % band over seeds) against env steps, one panel per
    horizon; and test score and test return against horizon per estimator, with the references. None for a
    learning-rate sweep (its table is the result)."""
    if not results or study.learning_rates:
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
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation score")
    title = f"{study.name}: validation score\n(mean, 95% bootstrap band over {len(study.seeds)} seeds)"
    if study.curricula:
        title += "; a curriculum (dashed) is validated at each stage's own horizon"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    curves = folder / "study_curves.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)

    fig, (score_ax, return_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = ((score_ax, lambda r: r.test_metrics.score), (return_ax, lambda r: train_summary(r)["test_return"]))
    width = 0.03 * (len(study.estimators) - 1)
    for i, estimator in enumerate(study.estimators):
        for ax, value in panels:
            xs, means, errors = [], [], [[], []]
            for horizon in study.horizons:
                runs = [r for r in _cells(study, results, [horizon], estimator) if r.test_metrics and "test_return" in train_summary(r)]
                if runs:
                    mean, low, high = bootstrap_ci([value(r) for r in runs])
                    offset = 0.0 if width == 0 else width * (i / (len(study.estimators) - 1) - 0.5)
                    xs.append(horizon * (1 + offset))  # dodged symmetrically about the horizon's tick
                    means.append(mean)
                    errors[0].append(mean - low)
                    errors[1].append(high - mean)
            ax.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=estimator)
    styles = (":", "-.", "--", (0, (1, 3)))
    for k, agent in enumerate(study.references):
        references = [results.get(reference_cell_name(study, agent, h, "test")) for h in study.horizons]
        for ax, value in ((score_ax, lambda r: r.metrics.score),
                          (return_ax, lambda r: sum(e.total_reward for e in r.episodes) / max(len(r.episodes), 1))):
            ys = [value(r) if r is not None else float("nan") for r in references]
            ax.plot(study.horizons, ys, color="grey", linestyle=styles[k % len(styles)], marker="_", markersize=14,
                    label=f"{agent} (reference)")
    for ax, name in ((score_ax, "test score"), (return_ax, "test return (score - penalties)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(study.horizons, [str(h) for h in study.horizons])
        ax.minorticks_off()
        ax.set_xlim(min(study.horizons) / 1.4, max(study.horizons) * 1.4)  # one horizon too: points stay by their tick
        ax.set_xlabel("sessions (horizon)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    score_ax.legend(fontsize=7)
    return_ax.legend(fontsize=7)
    fig.suptitle(f"{study.name}: chosen policy on the test seeds (mean, 95% bootstrap CI over seeds)", fontsize=9)
    fig.tight_layout()
    horizon_plot = folder / "study_horizons.png"
    fig.savefig(horizon_plot, dpi=110)
    plt.close(fig)
    return [curves, horizon_plot]
