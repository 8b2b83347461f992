"""The frozen answer side of the benchmark: a :class:`QAScorer` turns (questions, bank) into per-question records.

Scorers are chosen by name with :func:`make_scorer` -- ``recall`` (default, deterministic, CPU), ``rule``
(Synthetic's exact answerer) and ``llm`` (an answerer model) -- or passed as any object with a ``score`` method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from memenv.bank import MemoryBank, MemoryEntry
from memenv.data.schema import QA
from memenv.objects import resolve_spec
from memenv.scoring.metrics import evidence_recall


class QARecord(BaseModel):
    """How one question fared against one bank."""

    question: str
    answer: str
    category: str
    session: int
    score: float = Field(ge=0.0, le=1.0)
    prediction: str | None = None
    retrieved: list[str] = Field(default_factory=list)
    evidence_recall: float | None = None
    evidence_needed: int = 0
    evidence_missing: int = 0
    details: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class QAScorer(Protocol):
    """Anything that scores questions against a bank."""

    name: str

    def score(self, questions: Sequence[QA], bank: MemoryBank) -> list[QARecord]: ...


def evidence_counts(question: QA, bank_dia_ids: set[str]) -> tuple[int, int]:
    """(evidence turns needed, of those absent from the whole bank) -- the parts of M-Fail."""
    needed = set(question.evidence)
    return len(needed), len(needed - bank_dia_ids)


def bank_dia_ids(bank: MemoryBank) -> set[str]:
    return {dia_id for entry in bank for dia_id in entry.dia_ids}


def make_record(
    question: QA,
    score: float,
    retrieved: Sequence[MemoryEntry],
    in_bank: set[str],
    *,
    prediction: str | None = None,
    details: dict[str, Any] | None = None,
) -> QARecord:
    """A :class:`QARecord` with the evidence metrics every scorer reports: evidence recall of the ``retrieved``
    entries (1.0 for a question without evidence, as LoCoMo's evaluation code counts it) and the evidence turns
    absent from the whole bank (``in_bank``: :func:`bank_dia_ids`)."""
    needed, missing = evidence_counts(question, in_bank)
    retrieved_dia = {dia_id for entry in retrieved for dia_id in entry.dia_ids}
    return QARecord(
        question=question.question,
        answer=question.answer,
        category=question.category,
        session=question.session,
        score=score,
        prediction=prediction,
        retrieved=[entry.memory_id for entry in retrieved],
        evidence_recall=evidence_recall(question.evidence, retrieved_dia),
        evidence_needed=needed,
        evidence_missing=missing,
        details=details or {},
    )


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def summarize(records: Sequence[QARecord]) -> dict[str, Any]:
    """Micro-averaged ``score``, ``per_category`` ``{name: {"mean", "count"}}``, ``evidence_recall`` and ``m_fail``.

    >>> r = [QARecord(question="q", answer="a", category="temporal", session=1, score=s) for s in (1.0, 0.0)]
    >>> summarize(r)["per_category"]
    {'temporal': {'mean': 0.5, 'count': 2}}
    """
    per_category: dict[str, list[float]] = {}
    for record in records:
        per_category.setdefault(record.category, []).append(record.score)
    needed = sum(r.evidence_needed for r in records)
    return {
        "score": _mean(r.score for r in records) or 0.0,
        "count": len(records),
        "per_category": {
            name: {"mean": sum(scores) / len(scores), "count": len(scores)}
            for name, scores in sorted(per_category.items())
        },
        "evidence_recall": _mean(r.evidence_recall for r in records if r.evidence_recall is not None),
        "m_fail": sum(r.evidence_missing for r in records) / needed if needed else None,
    }


SCORERS = {
    "recall": "memenv.scoring.recall:RecallScorer",
    "rule": "memenv.scoring.rule:RuleScorer",
    "llm": "memenv.scoring.llm:LLMScorer",
}


def make_scorer(scorer: str | QAScorer, **kwargs: Any) -> QAScorer:
    """A scorer by name (``recall``, ``rule``, ``llm``, ``package.module:Class`` or ``path/to/file.py:Class``),
    or ``scorer`` itself."""
    if not isinstance(scorer, str):
        if not isinstance(scorer, QAScorer):
            raise TypeError(f"scorer must be a name or have .name and .score(questions, bank); got {scorer!r}")
        return scorer
    target = SCORERS.get(scorer, scorer)
    if ":" not in target:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {sorted(SCORERS)} or 'package.module:Class'")
    return resolve_spec(target, method="score", what="scorer", factories=False)(**kwargs)
