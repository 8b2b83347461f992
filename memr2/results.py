"""Run result files: one JSON per ``memr2 eval`` or training run (docs/design.md, "Results").

The leaderboard reads curated copies from ``leaderboards/results/``; writes are atomic (temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import platform
import re
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
    cached: int = Field(0, ge=0, description="replies taken from the answer/verdict cache, with no request sent")


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
    dirty: bool | None = Field(None, description="tracked files differed from `commit` when it ran (None: unknown)")
    command: str | None = Field(None, description="the exact command line that produced this file")
    protocol: str | None = Field(None, description="the named protocol it ran (memr2.protocols), or None")
    versions: dict[str, str] = Field(default_factory=dict, description="versions of the packages that matter")
    torch_threads: int | None = Field(None, ge=1, description="compute threads per process (None: not recorded)")
    platform: dict[str, str] = Field(default_factory=dict, description="OS, CPU model and kernel level it ran on")
    privileged: bool = Field(False, description="the agent could read gold actions or gold observations")
    display_name: str | None = Field(None, description="the agent's name on the leaderboard (default: agent)")
    episodes: list[EpisodeSummary] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list, description="per-question QARecord dicts")
    usage: dict[str, EndpointUsage] = Field(
        default_factory=dict, description="model-server usage by role: agent, answerer, judge"
    )
    errata: dict[str, Any] | None = Field(None, description="the LoCoMo errata overlay applied: name, sha256, golds "
                                          "and evidence lists changed (memenv.data.errata)")
    ceiling: dict[str, Any] | None = Field(None, description="best reachable scores under the original golds "
                                           "(memenv.scoring.ceilings), for runs on a file an overlay covers")
    # training only
    estimator: str | None = None
    config: dict[str, Any] | None = None
    initial_metrics: Metrics | None = None
    curve: list[CurvePoint] = Field(default_factory=list)
    test_seeds: list[int] = Field(default_factory=list, description="seeds never used to choose a checkpoint")
    test_metrics: Metrics | None = Field(None, description="the chosen (best-on-validation) policy on test_seeds")
    final_test_metrics: Metrics | None = Field(None, description="the last iteration's policy on test_seeds")


VERSIONED_PACKAGES = ("memory-r2", "gymnasium", "pettingzoo", "pydantic", "numpy", "torch", "transformers", "vllm")
PRIVILEGED_ENV_KWARGS = ("observation_gold", "privileged")
PRIVILEGED_AGENTS = ("oracle",)


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED_PACKAGES` (those not installed are left out) and of Python."""
    found = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def is_privileged(agent: str, env_kwargs: dict[str, Any]) -> bool:
    """Whether a run could read privileged information: an env built with ``observation_gold=True`` or
    ``privileged=True``, or the oracle agent (which plays the gold actions).

    >>> is_privileged("store-all", {"observation_gold": True}), is_privileged("mem0-like", {})
    (True, False)
    """
    return agent in PRIVILEGED_AGENTS or any(env_kwargs.get(key) is True for key in PRIVILEGED_ENV_KWARGS)


def slug(text: str) -> str:
    """``text`` as a file-name part: runs of other characters than ``A-Za-z0-9._-`` become one ``-``.

    >>> slug("MemoryR2/Synthetic-v1 (8 sessions)")
    'MemoryR2-Synthetic-v1-8-sessions'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def default_run_name(result: RunResult) -> str:
    """CleanRL-style ``{env}__{agent}__{seed}__{utc time}`` (an agent given by file path: without its folders)."""
    seed = result.seeds[0] if result.seeds else "na"
    stamp = result.created_at.replace(":", "").replace("-", "").split("+")[0]
    agent = result.agent.replace(os.sep, "/").rpartition("/")[2]
    return "__".join(slug(part) for part in (result.env_id, agent, str(seed), stamp))


def write_result(result: RunResult, output_dir: str | os.PathLike[str]) -> Path:
    """Write ``result`` atomically as ``<output_dir>/<run_name>.json`` and return the path.

    An explicit ``run_name`` replaces a file of that name. A default name (:func:`default_run_name`) never
    replaces one: the file is created exclusively, with ``-2``, ``-3``, ... appended while the name is taken, so
    concurrent runs into one folder all keep their results.
    """
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    explicit = bool(result.run_name)
    stem = slug(result.run_name or default_run_name(result))
    for attempt in itertools.count(1):
        name = stem if attempt == 1 else f"{stem}-{attempt}"
        target = directory / f"{name}.json"
        tmp = directory / f".{target.name}.{uuid.uuid4().hex}.tmp"  # same folder, so the rename / link is atomic
        try:
            with tmp.open("x", encoding="utf-8") as handle:  # "x" honours the umask, unlike mkstemp's 0600
                handle.write(result.model_copy(update={"run_name": name}).model_dump_json(indent=2))
                handle.write("\n")
            if explicit:
                os.replace(tmp, target)
                return target
            try:
                os.link(tmp, target)  # fails if the name exists: an exclusive, complete create
                return target
            except FileExistsError:
                continue
        finally:
            tmp.unlink(missing_ok=True)


def read_result(path: str | os.PathLike[str]) -> RunResult:
    """Load and validate a result file."""
    return RunResult.model_validate_json(Path(path).read_text(encoding="utf-8"))
