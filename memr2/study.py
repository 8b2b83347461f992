"""The credit-assignment study: a grid of ``memr2 train`` runs, run in parallel and resumable, then aggregated.

A study is a YAML file (``configs/study-v2.yaml``) read into :class:`StudyConfig`. :func:`plan` turns it
into cells: every estimator x horizon x training seed at one environment-step budget (local rerollouts count),
curriculum cells that spend the same budget split over growing horizons, and reference agents (restricted oracle,
store-all) on the validation and test seeds of every horizon. :func:`run_study` runs the cells as ``memr2``
subprocesses on ``workers`` processes: a cell whose result file exists is skipped, a killed training cell resumes
from its last checkpoint. ``memr2/study_report.py`` builds the tables and figures from the result files alone
(``memr2 leaderboard`` calls it), so the report is never typed by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memenv.files import read_yaml, write_text_atomic
from memr2.results import read_result, slug

STUDY_START, STUDY_END = "<!-- study:start -->", "<!-- study:end -->"
TIMING_FILE = "timing.json"  # the runner's own log in the results folder: one entry per invocation


class CurriculumCell(BaseModel):
    """A curriculum trained with one estimator; its stages share the study's budget equally."""

    model_config = ConfigDict(extra="forbid")
    estimator: str
    curriculum: list[int] = Field(min_length=2)


class StartPoint(BaseModel):
    """A policy the trained cells start from (the untrained model, its warm start), evaluated on the test seeds so
    the report can say how far training moved each estimator from it."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="its name in cell names and the report, e.g. 'warm-start'")
    agent: str = Field("llm", description="the agent `memr2 eval --agent` plays")
    model: str | None = Field(None, description="`memr2 eval --model`: e.g. a `memr2 sft` directory")
    agent_kwargs: dict[str, Any] = Field(default_factory=dict, description="`memr2 eval --agent-kwargs`: play it as "
                                         "the trainer does (greedy, same dtype and completion cap, same scripted role)")


class StudyConfig(BaseModel):
    """A study grid and its protocol (loaded from YAML; unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="prefix of every cell's run name")
    trainer_config: str = Field(description="TrainerConfig file shared by every cell (eval and test seeds come from "
                                "it); a relative path is read from the study YAML's folder")
    estimators: list[str] = Field(min_length=1)
    horizons: list[int] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1, description="training seeds; each cell is run once per seed")
    env_steps: int | dict[int, int] = Field(
        description="environment-step budget of every cell (local rerollouts count): one number, or one per horizon "
        "({8: 24000, 32: 40000}; every estimator gets its horizon's budget, a curriculum its last horizon's)")
    eval_every: dict[int, int] = Field(description="validation interval (iterations) per horizon")
    curricula: list[CurriculumCell] = Field(default_factory=list)
    references: list[str] = Field(default_factory=lambda: ["reference", "restricted-oracle", "store-all"])
    threshold: float = Field(0.8, gt=0, le=1, description="sample efficiency: env steps to this share of the first reference")
    floor: str | None = Field(
        None, description="the non-privileged scripted agent (one of references) that trained policies must "
        "beat on the test seeds before the report draws any conclusion about estimators (None: no floor)")
    paired: list[tuple[str, str]] = Field(default_factory=list, description="(a, b): paired differences a - b by seed")
    starts: list[StartPoint] = Field(
        default_factory=list, description="the policies training starts from, evaluated on the test seeds of every "
        "horizon; the report gives each estimator's trained - start with a Student-t interval over seeds")
    results_dir: str = Field(description="where every cell's result JSON goes")
    runs_dir: str = Field(description="run directories (checkpoints, metrics.jsonl) and logs")
    max_iterations: int = Field(100_000, description="a cap on iterations; the env-step budget ends a cell first")
    learning_rates: list[float] = Field(
        default_factory=list,
        description="a learning-rate sweep: every training cell runs once per rate (cell names get __lr<rate>) and "
        "the report shows validation scores per estimator and rate (tuning is on validation seeds only)")
    learning_rate: dict[str, float | dict[int, float]] = Field(
        default_factory=dict,
        description="the rates a sweep chose: per estimator one rate, or one per horizon ({8: 0.01, 32: 0.003}); "
        "an estimator or horizon not listed trains at the trainer config's rate")

    @field_validator("env_steps")
    @classmethod
    def _budget(cls, value: int | dict[int, int]) -> int | dict[int, int]:
        budgets = value.values() if isinstance(value, dict) else [value]
        if not budgets or any(b < 1 for b in budgets):
            raise ValueError("env_steps: give a budget >= 1 (or one per horizon)")
        return value

    def budget(self, horizon: int) -> int:
        """The env-step budget of a cell whose (last) horizon is ``horizon``."""
        if isinstance(self.env_steps, int):
            return self.env_steps
        if horizon not in self.env_steps:
            raise ValueError(f"env_steps has no budget for horizon {horizon}: give one per horizon, e.g. {{{horizon}: 24000}}")
        return self.env_steps[horizon]

    def chosen_rate(self, estimator: str, horizon: int) -> float | None:
        """The learning rate ``learning_rate`` gives ``estimator`` at ``horizon`` (None: the trainer config's)."""
        rate = self.learning_rate.get(estimator)
        return rate.get(horizon) if isinstance(rate, dict) else rate

    def budget_text(self) -> str:
        """The budget in words, e.g. ``12,000 environment steps`` or ``24,000 / 40,000 environment steps at 8 / 32 sessions``."""
        if isinstance(self.env_steps, int):
            return f"{self.env_steps:,} environment steps"
        horizons = sorted(self.env_steps)
        return (" / ".join(f"{self.env_steps[h]:,}" for h in horizons) + " environment steps at "
                + " / ".join(map(str, horizons)) + " sessions")

    @field_validator("learning_rates")
    @classmethod
    def _rates(cls, value: list[float]) -> list[float]:
        if any(not 0 < r < 10 for r in value) or len(set(value)) != len(value):
            raise ValueError("learning_rates: give distinct rates in (0, 10)")
        return value

    @field_validator("eval_every")
    @classmethod
    def _positive(cls, value: dict[int, int]) -> dict[int, int]:
        if any(k < 1 or v < 1 for k, v in value.items()):
            raise ValueError("eval_every maps horizons >= 1 to intervals >= 1")
        return value

    @model_validator(mode="after")
    def _paired_in_grid(self) -> "StudyConfig":
        outside = sorted({name for pair in self.paired for name in pair} - set(self.estimators))
        if outside:
            raise ValueError(f"paired names {outside}, which are not in estimators {self.estimators}; a paired "
                             "difference compares two estimators of the grid")
        return self

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "StudyConfig":
        data = read_yaml(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of study fields")
        study = cls.model_validate(data.get("study", data))
        missing = [h for h in study.horizons + [h for c in study.curricula for h in c.curriculum] if h not in study.eval_every]
        if missing:
            raise ValueError(f"{path}: eval_every has no interval for horizon(s) {sorted(set(missing))}")
        trained = set(study.estimators) | {c.estimator for c in study.curricula}
        if set(study.learning_rate) - trained:
            raise ValueError(f"{path}: learning_rate names {sorted(set(study.learning_rate) - trained)}, which the "
                             f"grid does not train (estimators: {sorted(trained)})")
        if study.floor is not None and study.floor not in study.references:
            raise ValueError(f"{path}: floor {study.floor!r} must be one of references {study.references}")
        if study.learning_rate and study.learning_rates:
            raise ValueError(f"{path}: give learning_rates (a sweep) or learning_rate (the rates a sweep chose), not both")
        return study.model_copy(update={"trainer_config": resolve_beside(path, study.trainer_config, "trainer_config")})

    def trainer(self):  # -> TrainerConfig (imported lazily: it pulls in the estimators)
        from algorithms.config import TrainerConfig

        return TrainerConfig.from_file(self.trainer_config)


def resolve_beside(config: str | os.PathLike[str], name: str, field: str) -> str:
    """``name`` (a file a config names) read from ``config``'s folder when relative, shown relative to the current
    directory when it lies under it (so recorded commands stay short); a missing file is a ``FileNotFoundError``
    (which says so when the file is where the current directory would have found it)."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = Path(config).resolve().parent / path
    if not path.is_file():
        hint = (f"; {name} exists relative to the current directory, but {field} is read from the study YAML's "
                f"folder: write it relative to {Path(config).parent}/") if Path(name).is_file() else ""
        raise FileNotFoundError(f"{config}: {field} {name}: no such file {path}{hint}")
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def check_study(study: StudyConfig) -> None:
    """Pre-flight, before any cell runs (also for ``--dry-run``): the trainer config parses, every estimator and
    every reference agent resolves (a typo or a bad ``module:factory`` is a ``ValueError`` now, not when its cell
    launches), and the validation and test seeds are consecutive."""
    from agents.registry import agent_factory
    from algorithms.estimators import get_estimator

    trainer = study.trainer()
    for estimator in dict.fromkeys([*study.estimators, *(c.estimator for c in study.curricula)]):
        try:
            get_estimator(estimator, trainer.estimator_kwargs)
        except ValueError as exc:
            raise ValueError(f"estimators: {exc}") from None
    for field, agents in (("references", study.references), ("starts", [s.agent for s in study.starts])):
        for agent in agents:
            try:
                agent_factory(agent)
            except ValueError as exc:
                raise ValueError(f"{field}: {exc}") from None
    for split, seeds in (("validation", trainer.eval_seeds), ("test", trainer.test_seeds)):
        _seed_span(seeds, f"{study.trainer_config}: {split} seeds")


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


def train_cell_name(study: StudyConfig, curriculum: Sequence[int], estimator: str, seed: int,
                    learning_rate: float | None = None) -> str:
    """The cell's run name and result-file stem (an estimator given as ``path/file.py:factory`` is slugged; a
    sweep's cell carries its learning rate)."""
    horizons = "h" + "-".join(map(str, curriculum))
    rate = "" if learning_rate is None else f"__lr{learning_rate:g}"
    return slug(f"{study.name}__{horizons}__{estimator}{rate}__seed{seed}")


def reference_cell_name(study: StudyConfig, agent: str, horizon: int, split: str) -> str:
    return slug(f"{study.name}__ref-{agent}__h{horizon}__{split}")


def start_cell_name(study: StudyConfig, label: str, horizon: int) -> str:
    return slug(f"{study.name}__start-{label}__h{horizon}__test")


def plan(study: StudyConfig) -> list[Cell]:
    """Every cell of the study: references first (they take seconds), then the training cells seed by seed."""
    trainer = study.trainer()
    cells = []
    horizons = sorted(set(study.horizons) | {h for c in study.curricula for h in c.curriculum})
    for horizon in horizons:
        env_kwargs = json.dumps({**trainer.env_kwargs, "max_sessions": horizon})

        def eval_cell(name: str, agent_argv: list[str], seeds: Sequence[int], split: str) -> Cell:
            first, count = _seed_span(seeds, f"{split} seeds")
            return Cell(name, ["eval", "--env", trainer.env_id, *agent_argv, "--env-kwargs", env_kwargs, "--seed", str(first),
                               "--episodes", str(count), "--output-dir", study.results_dir, "--run-name", name,
                               "--no-progress"], "eval")

        for split, seeds in (("validation", trainer.eval_seeds), ("test", trainer.test_seeds)):
            cells += [eval_cell(reference_cell_name(study, agent, horizon, split), ["--agent", agent], seeds, split)
                      for agent in study.references]
        cells += [eval_cell(start_cell_name(study, start.label, horizon),
                            ["--agent", start.agent, *(["--model", start.model] if start.model else []),
                             "--agent-kwargs", json.dumps(start.agent_kwargs)], trainer.test_seeds, "test")
                  for start in study.starts]
    runs = [(e, [h], study.budget(h)) for h in sorted(study.horizons, reverse=True) for e in study.estimators]
    runs += [(c.estimator, c.curriculum, study.budget(c.curriculum[-1]) // len(c.curriculum)) for c in study.curricula]
    rates = study.learning_rates or [None]
    for seed in study.seeds:  # seed-major: a study stopped early still has whole seeds
        for (estimator, curriculum, budget), rate in itertools.product(runs, rates):
            name = train_cell_name(study, curriculum, estimator, seed, rate)
            rate = rate if rate is not None else study.chosen_rate(estimator, curriculum[-1])
            cells.append(Cell(name, [
                "train", "--config", study.trainer_config, "--estimator", estimator, "--seed", str(seed),
                "--curriculum", *map(str, curriculum), "--env-steps-per-stage", str(budget),
                "--iterations", str(study.max_iterations), "--eval-every", str(study.eval_every[curriculum[-1]]),
                *(["--learning-rate", repr(rate)] if rate is not None else []),
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
    """The subprocess command of a cell: a training cell with a checkpoint resumes from it, and one killed before
    its first checkpoint starts again (``--overwrite``: its partial metrics must not mix with the new run's)."""
    argv = list(cell.argv)
    run_dir = Path(study.runs_dir) / cell.name
    if cell.kind == "train" and (run_dir / "checkpoints" / "last").is_dir():
        argv += ["--resume", str(run_dir)]
    elif cell.kind == "train" and run_dir.is_dir():
        argv += ["--overwrite"]
    return [sys.executable, "-m", "memr2", *argv]


TREE_CHANGED = -1000  # run_cell's status for a cell it did not start: the checkout changed under the study


def run_cell(study: StudyConfig, cell: Cell, tree: tuple[str | None, bool | None] | None = None) -> tuple[Cell, int, float, Path]:
    """Run one cell to completion; its output goes to ``<runs_dir>/<name>.log``. Returns (cell, exit status,
    seconds, log path). With ``tree`` (the ``(commit, dirty)`` the study started from), a cell is not started once
    the checkout differs from it (status :data:`TREE_CHANGED`): each cell records the code as it is when it starts,
    so an edit made while a study runs would leave later cells on other code, or marked dirty, than earlier ones."""
    from memr2.runtime import git_state

    log = Path(study.runs_dir) / f"{cell.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if tree is not None and git_state() != tree:
        return cell, TREE_CHANGED, 0.0, log
    start = time.perf_counter()  # threads: each cell fixes its own (TrainerConfig.torch_threads, --torch-threads)
    with open(log, "a", encoding="utf-8") as handle:
        status = subprocess.run(command(study, cell), stdout=handle, stderr=subprocess.STDOUT).returncode
    return cell, status, time.perf_counter() - start, log


def run_study(study: StudyConfig, *, workers: int, only: str | None = None, progress: bool = True,
              tree: tuple[str | None, bool | None] | None = None) -> int:
    """Run every unfinished cell (``only``: those whose name contains it) on ``workers`` processes; return the
    number of cells that failed or were not started because the checkout moved away from ``tree`` (see
    :func:`run_cell`). Each invocation that runs a cell appends its wall time to ``<results_dir>/timing.json``."""
    from tqdm.auto import tqdm

    Path(study.results_dir).mkdir(parents=True, exist_ok=True)
    cells = [c for c in plan(study) if only is None or only in c.name]
    todo = [c for c in cells if not is_done(study, c)]
    trainer = study.trainer()
    print(f"study {study.name}: {len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run on {workers} "
          f"worker process(es); logs in {study.runs_dir}/\n"
          f"protocol: {study.budget_text()} per cell for every estimator (local rerollouts count); "
          + (f"checkpoints chosen on validation seeds {trainer.eval_seeds}" if trainer.load_best_model_at_end else
             f"the last iteration's weights scored (load_best_model_at_end: false), validation seeds "
             f"{trainer.eval_seeds} draw the curves")
          + f", scores on test seeds {trainer.test_seeds}; "
          f"training seeds {study.seeds}")
    started, clock, failed = datetime.now(timezone.utc), time.perf_counter(), []
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(total=len(todo), disable=not progress, desc="study") as bar:
        futures = [pool.submit(run_cell, study, cell, tree) for cell in todo]
        for future in as_completed(futures):
            cell, status, seconds, log = future.result()
            bar.update(1)
            if status == TREE_CHANGED:
                failed.append(cell.name)
                tqdm.write(f"NOT RUN {cell.name}: tracked files changed since the study started from {tree[0][:7]}; "
                           "its result would not come from the code the others record (commit or revert, then rerun)")
            elif status != 0:
                failed.append(cell.name)
                tqdm.write(f"FAILED {cell.name} (exit {status}, {seconds:.0f}s): see {log}")
            else:
                tqdm.write(f"done   {cell.name} ({seconds:.0f}s)")
    if todo:  # an invocation that ran nothing leaves the (committed) timing file as it was
        timing_path = Path(study.results_dir) / TIMING_FILE
        timing = json.loads(timing_path.read_text()) if timing_path.is_file() else []
        timing.append({"started_at": started.isoformat(timespec="seconds"),
                       "wall_s": round(time.perf_counter() - clock, 1), "workers": workers, "cpus": os.cpu_count(),
                       "cells_run": len(todo), "failed": failed})
        write_text_atomic(timing_path, json.dumps(timing, indent=2) + "\n")
    return len(failed)


def verify_cells(study: StudyConfig, count: int, only: str | None = None, rel_tol: float = 0.0) -> dict[str, list[str]]:
    """Rerun the first ``count`` finished training cells (plan order; ``only``: names containing it) into
    ``<runs_dir>/verify/`` and return each cell's drift from its committed result (:func:`memr2.reproduce.drift`; an empty
    list: reproduced). A cell is rerun from the study's plan, not from the command its file records (a result
    file is untrusted input and runs nothing); a recorded command that differs from the plan is drift too."""
    from memr2.reproduce import drift, rerun, rerun_argv

    cells = [c for c in plan(study) if c.kind == "train" and is_done(study, c) and (only is None or only in c.name)]
    scratch = Path(study.runs_dir) / "verify"
    report = {}
    for cell in cells[:count]:
        old = read_result(Path(study.results_dir) / f"{cell.name}.json")
        planned = rerun_argv(shlex.join(["memr2", *cell.argv]), scratch / cell.name)
        recorded = rerun_argv(old.command, scratch / cell.name) if old.command else None
        problems = [] if recorded == planned else [f"recorded command {old.command!r} is not the plan's"]
        try:
            report[cell.name] = problems + drift(old, rerun(planned, scratch / cell.name), rel_tol=rel_tol)
        except ValueError as exc:  # the rerun failed: say so, and verify the other cells
            report[cell.name] = problems + [str(exc)]
    return report
