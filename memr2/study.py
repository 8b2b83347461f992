"""The credit-assignment study: a grid of ``memr2 train`` runs, run in parallel and resumable, then aggregated.

A study is a YAML file (``configs/study-synthetic-v1.yaml``) read into :class:`StudyConfig`. :func:`plan` turns it
into cells: every estimator x horizon x training seed at one environment-step budget (local rerollouts count),
curriculum cells that spend the same budget split over growing horizons, and reference agents (restricted oracle,
store-all) on the validation and test seeds of every horizon. :func:`run_study` runs the cells as ``memr2``
subprocesses on ``workers`` processes: a cell whose result file exists is skipped, a killed training cell resumes
from its last checkpoint. ``memr2/study_report.py`` builds the tables and figures from the result files alone
(``memr2 leaderboard`` calls it), so the report is never typed by hand.
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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memenv.files import load_yaml, write_text_atomic
from memr2.results import read_result, slug

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
        data = load_yaml(Path(path).read_text(encoding="utf-8"), str(path))  # no aliases: no billion laughs
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
    """The cell's run name and result-file stem (an estimator given as ``path/file.py:factory`` is slugged)."""
    horizons = "h" + "-".join(map(str, curriculum))
    return slug(f"{study.name}__{horizons}__{estimator}__seed{seed}")


def reference_cell_name(study: StudyConfig, agent: str, horizon: int, split: str) -> str:
    return slug(f"{study.name}__ref-{agent}__h{horizon}__{split}")


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
    trainer = study.trainer()
    print(f"study {study.name}: {len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run on {workers} "
          f"worker process(es); logs in {study.runs_dir}/\n"
          f"protocol: {study.env_steps:,} env steps per cell for every estimator (local rerollouts count); "
          f"checkpoints chosen on validation seeds {trainer.eval_seeds}, scores on test seeds {trainer.test_seeds}; "
          f"training seeds {study.seeds}")
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
