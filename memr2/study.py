"""The credit-assignment study: a grid of ``memr2 train`` runs, run in parallel and resumable, then aggregated.

A study is a YAML file (``configs/study-synthetic-v1.yaml``) read into :class:`StudyConfig`. :func:`plan` turns it
into cells: every estimator x horizon x training seed at one environment-step budget (local rerollouts count),
curriculum cells that spend the same budget split over growing horizons, and reference agents (restricted oracle,
store-all) on the validation and test seeds of every horizon. :func:`run_study` runs the cells as ``memr2``
subprocesses on ``workers`` processes: a cell whose result file exists is skipped, a killed training cell resumes
from its last checkpoint. :func:`render_study` and :func:`plot_study` build the tables and figures from the
result files alone (``memr2 leaderboard`` calls them), so the report is never typed by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from memenv.files import write_text_atomic
from memr2.results import RunResult, read_result
from memr2.stats import bootstrap_ci, format_ci

STUDY_START, STUDY_END = "<!-- study:start -->", "<!-- study:end -->"
TIMING_FILE = "timing.json"  # the runner's own log in the results folder: one entry per invocation


class CurriculumCell(BaseModel):
    """A curriculum trained with one estimator; its stages share the study's budget equally."""

    model_config = ConfigDict(extra="forbid")
    estimator: str
    curriculum: list[int] = Field(min_length=2)


class StudyConfig(BaseModel):
    """A study grid and its protocol (loaded from YAML; unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="prefix of every cell's run name")
    trainer_config: str = Field(description="TrainerConfig file shared by every cell (eval and test seeds come from it)")
    estimators: list[str] = Field(min_length=1)
    horizons: list[int] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1, description="training seeds; each cell is run once per seed")
    env_steps: int = Field(gt=0, description="environment-step budget of every cell (local rerollouts count)")
    eval_every: dict[int, int] = Field(description="validation interval (iterations) per horizon")
    curricula: list[CurriculumCell] = Field(default_factory=list)
    references: list[str] = Field(default_factory=lambda: ["restricted-oracle", "store-all"])
    threshold: float = Field(0.8, gt=0, le=1, description="sample efficiency: env steps to this share of the first reference")
    paired: list[tuple[str, str]] = Field(default_factory=list, description="(a, b): paired differences a - b by seed")
    results_dir: str = Field(description="where every cell's result JSON goes")
    runs_dir: str = Field(description="run directories (checkpoints, metrics.jsonl) and logs")
    max_iterations: int = Field(100_000, description="a cap on iterations; the env-step budget ends a cell first")

    @field_validator("eval_every")
    @classmethod
    def _positive(cls, value: dict[int, int]) -> dict[int, int]:
        if any(k < 1 or v < 1 for k, v in value.items()):
            raise ValueError("eval_every maps horizons >= 1 to intervals >= 1")
        return value

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "StudyConfig":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of study fields")
        study = cls.model_validate(data.get("study", data))
        missing = [h for h in study.horizons + [h for c in study.curricula for h in c.curriculum] if h not in study.eval_every]
        if missing:
            raise ValueError(f"{path}: eval_every has no interval for horizon(s) {sorted(set(missing))}")
        return study

    def trainer(self):  # -> TrainerConfig (imported lazily: it pulls in the estimators)
        from algorithms.config import TrainerConfig

        return TrainerConfig.from_file(self.trainer_config)


@dataclass
class Cell:
    """One ``memr2`` invocation of the study and the result file it writes."""

    name: str
    argv: list[str]
    kind: Literal["train", "eval"]


def _seed_span(seeds: Sequence[int], what: str) -> tuple[int, int]:
    if list(seeds) != list(range(seeds[0], seeds[0] + len(seeds))):
        raise ValueError(f"{what} must be consecutive for `memr2 eval --seed S --episodes N`, got {seeds}")
    return seeds[0], len(seeds)


def train_cell_name(study: StudyConfig, curriculum: Sequence[int], estimator: str, seed: int) -> str:
    horizons = "h" + "-".join(map(str, curriculum))
    return f"{study.name}__{horizons}__{estimator}__seed{seed}"


def reference_cell_name(study: StudyConfig, agent: str, horizon: int, split: str) -> str:
    return f"{study.name}__ref-{agent}__h{horizon}__{split}"


def plan(study: StudyConfig) -> list[Cell]:
    """Every cell of the study: references first (they take seconds), then the training cells seed by seed."""
    trainer = study.trainer()
    cells = []
    horizons = sorted(set(study.horizons) | {h for c in study.curricula for h in c.curriculum})
    for horizon in horizons:
        for split, seeds in (("validation", trainer.eval_seeds), ("test", trainer.test_seeds)):
            first, count = _seed_span(seeds, f"{split} seeds")
            for agent in study.references:
                name = reference_cell_name(study, agent, horizon, split)
                cells.append(Cell(name, ["eval", "--env", trainer.env_id, "--agent", agent, "--env-kwargs",
                                         json.dumps({**trainer.env_kwargs, "max_sessions": horizon}), "--seed", str(first),
                                         "--episodes", str(count), "--output-dir", study.results_dir, "--run-name", name,
                                         "--no-progress"], "eval"))
    runs = [(e, [h], study.env_steps) for h in sorted(study.horizons, reverse=True) for e in study.estimators]
    runs += [(c.estimator, c.curriculum, study.env_steps // len(c.curriculum)) for c in study.curricula]
    for seed in study.seeds:  # seed-major: a study stopped early still has whole seeds
        for estimator, curriculum, budget in runs:
            name = train_cell_name(study, curriculum, estimator, seed)
            cells.append(Cell(name, [
                "train", "--config", study.trainer_config, "--estimator", estimator, "--seed", str(seed),
                "--curriculum", *map(str, curriculum), "--env-steps-per-stage", str(budget),
                "--iterations", str(study.max_iterations), "--eval-every", str(study.eval_every[curriculum[-1]]),
                "--output-dir", str(Path(study.runs_dir) / name), "--results-dir", study.results_dir,
                "--run-name", name, "--no-progress",
            ], "train"))
    return cells


def is_done(study: StudyConfig, cell: Cell) -> bool:
    """A cell is done when its result file exists and reads as a result."""
    path = Path(study.results_dir) / f"{cell.name}.json"
    try:
        read_result(path)
    except (OSError, ValueError):
        return False
    return True


def command(study: StudyConfig, cell: Cell) -> list[str]:
    """The subprocess command of a cell; a training cell with a checkpoint resumes from it."""
    argv = list(cell.argv)
    run_dir = Path(study.runs_dir) / cell.name
    if cell.kind == "train" and (run_dir / "checkpoints" / "last").is_dir():
        argv += ["--resume", str(run_dir)]
    return [sys.executable, "-m", "memr2", *argv]


def run_cell(study: StudyConfig, cell: Cell) -> tuple[Cell, int, float, Path]:
    """Run one cell to completion; its output goes to ``<runs_dir>/<name>.log``. Returns (cell, exit status,
    seconds, log path)."""
    log = Path(study.runs_dir) / f"{cell.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as handle:
        status = subprocess.run(command(study, cell), stdout=handle, stderr=subprocess.STDOUT, env=env).returncode
    return cell, status, time.perf_counter() - start, log


def run_study(study: StudyConfig, *, workers: int, only: str | None = None, progress: bool = True) -> int:
    """Run every unfinished cell (``only``: those whose name contains it) on ``workers`` processes; return the
    number of cells that failed. Each invocation appends its wall time to ``<results_dir>/timing.json``."""
    from tqdm.auto import tqdm

    Path(study.results_dir).mkdir(parents=True, exist_ok=True)
    cells = [c for c in plan(study) if only is None or only in c.name]
    todo = [c for c in cells if not is_done(study, c)]
    print(f"study {study.name}: {len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run on {workers} "
          f"worker process(es); logs in {study.runs_dir}/")
    started, clock, failed = datetime.now(timezone.utc), time.perf_counter(), []
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(total=len(todo), disable=not progress, desc="study") as bar:
        futures = [pool.submit(run_cell, study, cell) for cell in todo]
        for future in as_completed(futures):
            cell, status, seconds, log = future.result()
            bar.update(1)
            if status != 0:
                failed.append(cell.name)
                tqdm.write(f"FAILED {cell.name} (exit {status}, {seconds:.0f}s): see {log}")
            else:
                tqdm.write(f"done   {cell.name} ({seconds:.0f}s)")
    timing_path = Path(study.results_dir) / TIMING_FILE
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else []
    timing.append({"started_at": started.isoformat(timespec="seconds"), "wall_s": round(time.perf_counter() - clock, 1),
                   "workers": workers, "cpus": os.cpu_count(), "cells_run": len(todo), "failed": failed})
    write_text_atomic(timing_path, json.dumps(timing, indent=2) + "\n")
    return len(failed)


# -- aggregation ------------------------------------------------------------------------------------------------
def load_study(study: StudyConfig) -> dict[str, RunResult]:
    """The study's result files by cell name (cells not run yet are absent)."""
    folder = Path(study.results_dir)
    return {c.name: read_result(folder / f"{c.name}.json") for c in plan(study) if (folder / f"{c.name}.json").is_file()}


def _train(result: RunResult) -> dict:
    return getattr(result, "train", None) or {}


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
    values = [_train(r).get("diagnostics", {}).get(name, {}).get(end) for r in runs]
    values = [v for v in values if v is not None]
    return "-" if not values else f"{sum(values) / len(values):.2f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(names: Sequence[str]) -> list[str]:
    return [_row(names), "|" + "---|" * len(names)]


def headline_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """Test score, mean [95 % bootstrap CI] over training seeds, per estimator and horizon; references below."""
    lines = _header(["estimator", *(f"{h} sessions: test score" for h in study.horizons), "seeds"])
    for estimator in study.estimators:
        cells, counts = [], set()
        for h in study.horizons:
            runs = [r for r in _cells(study, results, [h], estimator) if r.test_metrics]
            counts.add(len(runs))
            cells.append(format_ci([r.test_metrics.score for r in runs]) if runs else "-")
        lines.append(_row([f"`{estimator}`", *cells, "/".join(map(str, sorted(counts)))]))
    for agent in study.references:
        scores = [_reference(study, results, agent, h, "test") for h in study.horizons]
        lines.append(_row([f"{agent} (reference, no training)", *("-" if s is None else f"{s:.3f}" for s in scores), "-"]))
    return "\n".join(lines)


def cell_table(study: StudyConfig, results: dict[str, RunResult]) -> str:
    """One row per (horizon, estimator): budget, scores and returns with CIs, sample efficiency, diagnostics."""
    target_name = study.references[0] if study.references else None
    lines = _header(["horizon", "estimator", "seeds", "env steps", "iterations", "test score", "test return",
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
        lines.append(_row([
            " -> ".join(map(str, curriculum)), f"`{estimator}`", str(len(runs)),
            str(round(sum(_train(r).get("env_steps", 0) for r in runs) / len(runs))),
            str(round(sum(_train(r).get("iterations", 0) for r in runs) / len(runs))),
            f"**{format_ci([r.test_metrics.score for r in tested])}**" if tested else "-",
            format_ci([_train(r)["test_return"] for r in tested if "test_return" in _train(r)]) if tested else "-",
            format_ci([r.metrics.score for r in runs]), reach,
            _diagnostic(runs, "zero_std_global", "end"), _diagnostic(runs, "zero_std_local", "end"), hits,
            f"{sum(r.wall_time_s for r in runs) / len(runs):.0f}",
        ]))
    return "\n".join(lines)


def paired_differences(study: StudyConfig, results: dict[str, RunResult], pairs: Sequence[tuple[Sequence[int], str, Sequence[int], str]]) -> str:
    """Mean test-score difference a - b over training seeds run in both, with its 95 % bootstrap CI."""
    lines = _header(["a", "b", "seeds", "mean a - b [95% CI]", "a wins / ties / loses"])
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
        label = lambda c, e: f"`{e}` at {' -> '.join(map(str, c))}"  # noqa: E731
        record = f"{sum(d > 0 for d in diffs)} / {sum(d == 0 for d in diffs)} / {sum(d < 0 for d in diffs)}"
        lines.append(_row([label(curriculum_a, a), label(curriculum_b, b), str(len(diffs)),
                           f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]", record]))
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
            length = min(len(r.curve) for r in runs)
            steps = [sum(r.curve[i].env_steps for r in runs) / len(runs) for i in range(length)]
            bands = [bootstrap_ci([r.curve[i].score for r in runs]) for i in range(length)]
            label = estimator if len(curriculum) == 1 else f"{estimator}, curriculum {'-'.join(map(str, curriculum))}"
            line, = ax.plot(steps, [b[0] for b in bands], marker="o", markersize=2.5, label=label,
                            linestyle="-" if len(curriculum) == 1 else "--")
            ax.fill_between(steps, [b[1] for b in bands], [b[2] for b in bands], color=line.get_color(), alpha=0.15)
        reference = _reference(study, results, study.references[0], horizon, "validation") if study.references else None
        if reference is not None:
            ax.axhline(study.threshold * reference, color="grey", linestyle=":", linewidth=1,
                       label=f"{study.threshold:.0%} of {study.references[0]}")
        ax.set_title(f"{horizon} sessions")
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation score")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{study.name}: validation score (mean, 95% bootstrap band over {len(study.seeds)} seeds)", fontsize=9)
    fig.tight_layout()
    curves = folder / "study_curves.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)

    fig, (score_ax, return_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, estimator in enumerate(study.estimators):
        for ax, value in ((score_ax, lambda r: r.test_metrics.score), (return_ax, lambda r: _train(r)["test_return"])):
            xs, means, errors = [], [], [[], []]
            for horizon in study.horizons:
                runs = [r for r in _cells(study, results, [horizon], estimator) if r.test_metrics and "test_return" in _train(r)]
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
