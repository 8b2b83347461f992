"""Run result files: one JSON per ``memr2 eval`` or training run (DESIGN.md, "Command line and result files").

The leaderboard reads curated copies from ``leaderboards/results/``; writes are atomic (temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.rollout import EpisodeSummary

SCHEMA_VERSION = 1


class CategoryMetrics(BaseModel):
    """Mean score and question count of one category (by name, e.g. ``"single-hop"``)."""

    mean: float
    count: int = Field(ge=0)


class RubricJ(BaseModel):
    """J (the fraction judged CORRECT) under one judge protocol: model, rubric name and the rubric's sha256."""

    model: str
    rubric: str
    prompt_sha256: str
    score: float
    count: int = Field(ge=0)
    per_category: dict[str, CategoryMetrics] = Field(default_factory=dict)


class Agreement(BaseModel):
    """How often two binary labelings of the same answers agree, and Cohen's kappa."""

    count: int = Field(ge=0)
    agree: float | None = None
    kappa: float | None = None


class JudgeMetrics(BaseModel):
    """J per rubric, and agreement between rubrics (``"a~b"``) and with LoCoMo F1 (``"a~f1>=0.5"``)."""

    rubrics: dict[str, RubricJ] = Field(default_factory=dict)
    agreement: dict[str, Agreement] = Field(default_factory=dict)


class Metrics(BaseModel):
    """Overall micro-averaged ``score``, ``per_category`` by name, and the evidence metrics of a run; ``judge``
    when an LLM judge scored the answers."""

    model_config = ConfigDict(extra="allow")

    score: float
    count: int = Field(0, ge=0)
    per_category: dict[str, CategoryMetrics] = Field(default_factory=dict)
    evidence_recall: float | None = None
    m_fail: float | None = None
    judge: JudgeMetrics | None = None


class EndpointUsage(BaseModel):
    """Requests and tokens sent to one model server (the API key is never recorded)."""

    model: str
    base_url: str | None = None
    requests: int = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    request_seconds: float = Field(ge=0)
    cost_usd: float | None = None


class MemoryStats(BaseModel):
    """Size of the final banks, summed over the run's episodes."""

    entries: int = Field(ge=0)
    tokens: int = Field(ge=0)


class CurvePoint(BaseModel):
    """A validation point of a training run."""

    iteration: int
    env_steps: int
    score: float


class RunResult(BaseModel):
    """Everything a leaderboard needs about one run. Training runs fill the training-only fields."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    kind: Literal["eval", "train"]
    run_name: str = ""
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    env_id: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    agent: str
    agent_kwargs: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    scorer: str
    seeds: list[int] = Field(default_factory=list)
    metrics: Metrics
    memory: MemoryStats
    invalid_actions: int = Field(ge=0)
    wall_time_s: float = Field(ge=0)
    version: str
    commit: str | None = None
    episodes: list[EpisodeSummary] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list, description="per-question QARecord dicts")
    usage: dict[str, EndpointUsage] = Field(
        default_factory=dict, description="model-server usage by role: agent, answerer, judge"
    )
    # training only
    estimator: str | None = None
    config: dict[str, Any] | None = None
    initial_metrics: Metrics | None = None
    curve: list[CurvePoint] = Field(default_factory=list)


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """The checked-out commit of the repository holding ``path`` (default: this package), or None."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def default_run_name(result: RunResult) -> str:
    """CleanRL-style ``{env}__{agent}__{seed}__{utc time}``."""
    seed = result.seeds[0] if result.seeds else "na"
    stamp = result.created_at.replace(":", "").replace("-", "").split("+")[0]
    return "__".join(_slug(part) for part in (result.env_id, result.agent, str(seed), stamp))


def write_result(result: RunResult, output_dir: str | os.PathLike[str]) -> Path:
    """Write ``result`` atomically as ``<output_dir>/<run_name>.json`` and return the path."""
    if not result.run_name:
        result = result.model_copy(update={"run_name": default_run_name(result)})
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{_slug(result.run_name)}.json"
    tmp = directory / f".{target.name}.{uuid.uuid4().hex}.tmp"  # same folder, so os.replace is atomic
    try:
        with tmp.open("x", encoding="utf-8") as handle:  # "x" honours the umask, unlike mkstemp's 0600
            handle.write(result.model_dump_json(indent=2))
            handle.write("\n")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def read_result(path: str | os.PathLike[str]) -> RunResult:
    """Load and validate a result file."""
    return RunResult.model_validate_json(Path(path).read_text(encoding="utf-8"))
