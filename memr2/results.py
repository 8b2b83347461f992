"""Run result files: one JSON per ``memr2 eval`` or training run (docs/design.md, "Results").

The leaderboard reads curated copies from ``leaderboards/results/``; writes are atomic (temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file. :func:`write_result` adds
``record_sha256`` (:func:`record_checksum`) and :func:`read_result` checks every file it loads
(:func:`validate_result`; docs/reliability.md, "Result files").
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    requests_without_usage: int = Field(0, ge=0, description="replies whose usage was missing or malformed")


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
    mode: Literal["verified", "self-reported"] | None = Field(
        None, description="verified: the agent ran out of process on secret seeds (memr2 eval --untrusted-agent "
        "--seed-secret-file); anything else (None: written before the field existed) is self-reported")
    seed_commitment: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                        description="sha256 of the seed secret (memr2.secret_seeds)")
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


class ProbeCounts(BaseModel):
    """Verdicts of one kind in a judge probe: ``[CORRECT, tried]``."""

    model_config = ConfigDict(extra="forbid")
    correct: int = Field(ge=0)
    tried: int = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return {"correct": value[0], "tried": value[1]}
        return value

    @model_validator(mode="after")
    def _at_most_tried(self) -> "ProbeCounts":
        if self.correct > self.tried:
            raise ValueError(f"{self.correct} CORRECT verdicts out of {self.tried} tried")
        return self


class ProbeRubric(BaseModel):
    """One rubric's line of a judge probe: its prompt's sha256, and the counts per kind of answer."""

    model_config = ConfigDict(extra="allow")
    prompt_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    gold: ProbeCounts
    vague: ProbeCounts
    specific: ProbeCounts | None = None  # probes written before this kind existed lack it
    injected: ProbeCounts
    instruction: ProbeCounts


class JudgeProbe(BaseModel):
    """What ``benchmarks/judge_probe.py --out`` writes: how often one judge model is fooled, per rubric."""

    model_config = ConfigDict(extra="allow")
    judge: str
    rubrics: dict[str, ProbeRubric]


def read_probe(path: str | os.PathLike[str]) -> JudgeProbe:
    """Load and validate a judge probe file (untrusted: counts are checked, nothing in it runs)."""
    return JudgeProbe.model_validate_json(Path(path).read_text(encoding="utf-8"))


VERSIONED_PACKAGES = ("memory-r2", "gymnasium", "pettingzoo", "pydantic", "numpy", "torch", "transformers", "vllm")
CHECKSUM_KEY = "record_sha256"


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED_PACKAGES` (those not installed are left out) and of Python."""
    found = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def is_privileged(agent: str, env_id: str, env_kwargs: dict[str, Any]) -> bool:
    """Whether a run could read privileged information: an env built with the kwarg that makes it privileged
    (:func:`memenv.registration.is_privileged_env`: ``observation_gold=True`` on LoCoMo-v0, ``privileged=True`` on
    Synthetic), or a built-in agent that needs gold (``oracle``, ``restricted-oracle``).

    >>> locomo = "MemoryR2/LoCoMo-v0"
    >>> is_privileged("store-all", locomo, {"observation_gold": True}), is_privileged("mem0-like", locomo, {})
    (True, False)
    """
    from agents.registry import PRIVILEGED_AGENTS
    from memenv.registration import is_privileged_env

    return agent in PRIVILEGED_AGENTS or is_privileged_env(env_id, env_kwargs)


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
        data = json.loads(result.model_copy(update={"run_name": name}).model_dump_json())
        data[CHECKSUM_KEY] = record_checksum(data)
        try:
            with tmp.open("x", encoding="utf-8") as handle:  # "x" honours the umask, unlike mkstemp's 0600
                handle.write(json.dumps(data, indent=2, ensure_ascii=False))
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
    """Load a result file and check it with :func:`validate_result` (a ``ValueError`` says what is wrong)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"a result file holds one JSON object, not {type(data).__name__}")
    return validate_result(data)


def record_checksum(data: dict[str, Any]) -> str:
    """sha256 of a result's canonical JSON (keys sorted, no spaces, UTF-8), its ``record_sha256`` left out.

    It catches a file edited by hand or cut short, not a forger: anyone can recompute it.

    >>> record_checksum({"a": 1, "record_sha256": "x"}) == record_checksum({"a": 1})
    True
    """
    body = {key: value for key, value in data.items() if key != CHECKSUM_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def non_finite(value: Any, path: str = "") -> list[str]:
    """Where ``value`` (parsed JSON) holds NaN or an infinity, as ``a.b[2].c`` paths.

    >>> non_finite({"a": [1.0, float("nan")], "b": {"c": float("inf")}})
    ['a[1]', 'b.c']
    """
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in non_finite(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in non_finite(item, f"{path}[{i}]")]
    return []


def _metric_fractions(metrics: Metrics | None, prefix: str) -> dict[str, float | None]:
    """The fields of ``metrics`` that are fractions (scores, means, recall, M-Fail, J, agreement), by path."""
    if metrics is None:
        return {}
    found = {f"{prefix}.score": metrics.score, f"{prefix}.evidence_recall": metrics.evidence_recall,
             f"{prefix}.m_fail": metrics.m_fail}
    found.update({f"{prefix}.per_category.{name}.mean": c.mean for name, c in metrics.per_category.items()})
    judge = metrics.judge or JudgeMetrics()
    for name, j in judge.rubrics.items():
        found[f"{prefix}.judge.rubrics.{name}.score"] = j.score
        found.update({f"{prefix}.judge.rubrics.{name}.per_category.{c}.mean": m.mean for c, m in j.per_category.items()})
    found.update({f"{prefix}.judge.agreement.{pair}.agree": a.agree for pair, a in judge.agreement.items()})
    return found


def range_problems(result: RunResult) -> list[str]:
    """What in ``result`` is out of its range: fractions outside [0, 1], kappa outside [-1, 1], and the free-form
    numbers the leaderboard reads (``config.seed`` an int, ``train.test_return`` a number, ``max_sessions`` an int).
    """
    fractions = {**_metric_fractions(result.metrics, "metrics"), **_metric_fractions(result.initial_metrics, "initial_metrics"),
                 **_metric_fractions(result.test_metrics, "test_metrics")}
    fractions.update({f"curve[{i}].score": point.score for i, point in enumerate(result.curve)})
    problems = [f"{path} = {value} is not in [0, 1]" for path, value in fractions.items()
                if value is not None and not 0 <= value <= 1]
    for block in (result.metrics, result.initial_metrics, result.test_metrics):
        for pair, a in (block.judge.agreement.items() if block and block.judge else ()):
            if a.kappa is not None and not -1 <= a.kappa <= 1:
                problems.append(f"kappa of {pair} = {a.kappa} is not in [-1, 1]")
    train = (result.model_extra or {}).get("train") or {}
    if not isinstance(train, dict):
        return [*problems, f"train = {train!r} is not an object"]
    free_form = {"config.seed": ((result.config or {}).get("seed", 0), int),
                 "env_kwargs.max_sessions": (result.env_kwargs.get("max_sessions") or 0, int),
                 "train.test_return": (train.get("test_return", 0), (int, float))}
    problems += [f"{path} = {value!r} is not a number of type {kind}" for path, (value, kind) in free_form.items()
                 if isinstance(value, bool) or not isinstance(value, kind)]
    return problems


def validate_result(data: dict[str, Any]) -> RunResult:
    """A result file's parsed JSON as a :class:`RunResult`, checked: only finite numbers, fractions in [0, 1]
    (:func:`range_problems`), and its ``record_sha256`` (when it has one: files written before it existed have
    none) equal to :func:`record_checksum`. A run that could read gold (:func:`is_privileged`) is returned marked
    ``privileged`` whatever the file says. Anything else is a ``ValueError`` listing every problem."""
    problems = [f"{path} is not a finite number" for path in non_finite(data)]
    recorded = data.get(CHECKSUM_KEY)
    if recorded is not None and not problems and recorded != record_checksum(data):
        problems.append(f"{CHECKSUM_KEY} does not match the content: the file was changed after it was written "
                        "(rerun the command in its `command` field to get a genuine file)")
    if problems:
        raise ValueError("; ".join(problems))
    result = RunResult.model_validate(data)
    problems = range_problems(result)
    if problems:
        raise ValueError("; ".join(problems))
    if result.mode == "verified" and not (result.seed_commitment and result.protocol):
        raise ValueError("mode is verified but the result has no seed_commitment or no protocol: a verified run "
                         "records both (memr2 eval --protocol P --untrusted-agent CMD --seed-secret-file S)")
    if not result.privileged and is_privileged(result.agent, result.env_id, result.env_kwargs):
        result = result.model_copy(update={"privileged": True})
    return result
