"""Score ceilings under LoCoMo's original golds: the best a system can score if it gives the audited answer.

Where an errata overlay corrects a gold answer, a system that answers correctly (the audited answer) is scored
against the wrong original gold. Its score on that question is the ceiling there; on every other question it
gives the gold itself. Per category, the ceiling is the mean of those scores:

* ``f1``: LoCoMo F1 (:func:`~memenv.scoring.metrics.locomo_f1`, the per-category rules);
* ``bleu1``: BLEU-1 against the gold the category is scored on (:func:`~memenv.scoring.metrics.category_gold`);
  for both, an open-domain answer counts up to its first ``;``, as the gold does;
* ``recall``: the recall scorer's token recall of the gold in the audited answer alone. The recall scorer reads
  ten retrieved memories, not one answer, so this is not a bound on its scores, only how much of the gold's
  tokens a correct answer carries;
* ``J`` (:func:`judged_ceilings`) needs a judge: each corrected question is judged (question, original gold,
  audited answer); a question whose gold is unchanged counts as CORRECT (the judge is assumed to accept the gold
  itself). With no judge there is no J ceiling.

A system above its category's ceiling (F1, BLEU-1, J) gets credit for wrong golds. Adversarial questions are left
out: the overlays correct none, and their score does not compare an answer with a gold.

>>> table = ceilings(errata="audit-v1")  # the embedded dev subset, original golds
>>> round(table["f1"].per_category["single-hop"].mean, 4), table["f1"].per_category["single-hop"].count
(0.9572, 200)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from memenv.data.errata import Errata
from memenv.data.schema import QA, Conversation
from memenv.scoring.metrics import answer_tokens, bleu1, category_gold, locomo_f1
from memenv.scoring.recall import token_recall

METRICS = ("f1", "bleu1", "recall")


class CeilingPart(BaseModel):
    """Mean ceiling and question count of one category, and how many of its golds the overlay changed."""

    mean: float
    count: int = Field(ge=0)
    changed: int = Field(0, ge=0)


class Ceiling(BaseModel):
    """One metric's ceiling: overall (micro-averaged) and per category name."""

    metric: str
    overall: CeilingPart
    per_category: dict[str, CeilingPart]


def ceiling_pairs(original: Sequence[Conversation], audited: Sequence[Conversation]) -> list[tuple[QA, str]]:
    """(question with its original gold, audited answer) for every non-adversarial question; ``audited`` is
    ``original`` with an overlay applied (same conversations and questions, in the same order)."""
    pairs = []
    for before, after in zip(original, audited, strict=True):
        for qa, fixed in zip(before.questions, after.questions, strict=True):
            if qa.category_id != 5 and qa.category != "adversarial":
                pairs.append((qa, fixed.answer))
    return pairs


def question_score(metric: str, qa: QA, prediction: str) -> float:
    """``prediction``'s score on ``qa`` (original gold) under ``metric`` (one of :data:`METRICS`). For F1 and
    BLEU-1 an open-domain answer is cut at its first ``;`` like the gold (LoCoMo's golds there are "answer;
    rationale"), so a gold given as the answer scores 1."""
    category_id = qa.category_id or 4
    if metric == "f1":
        return locomo_f1(category_gold(prediction, category_id), qa.answer, category_id)
    if metric == "bleu1":
        return bleu1(category_gold(prediction, category_id), category_gold(qa.answer, category_id))
    if metric == "recall":
        return token_recall(qa.answer, frozenset(answer_tokens(prediction)))
    raise ValueError(f"unknown ceiling metric {metric!r}; choose one of {list(METRICS)} (J: judged_ceilings)")


def tabulate(metric: str, scored: Sequence[tuple[QA, float, bool]]) -> Ceiling:
    """Means per category and overall of ``(question, score, gold changed)`` triples."""
    groups: dict[str, list[tuple[float, bool]]] = {}
    for qa, score, changed in scored:
        groups.setdefault(qa.category, []).append((score, changed))

    def part(items: Sequence[tuple[float, bool]]) -> CeilingPart:
        return CeilingPart(mean=sum(s for s, _ in items) / len(items) if items else 0.0, count=len(items),
                           changed=sum(c for _, c in items))

    return Ceiling(metric=metric, overall=part([item for items in groups.values() for item in items]),
                   per_category={name: part(items) for name, items in sorted(groups.items())})


def pair_ceilings(pairs: Sequence[tuple[QA, str]], metrics: Sequence[str] = METRICS) -> dict[str, Ceiling]:
    """The ceiling of each metric over ``pairs`` (:func:`ceiling_pairs`)."""
    return {
        metric: tabulate(metric, [(qa, question_score(metric, qa, answer), answer != qa.answer)
                                  for qa, answer in pairs])
        for metric in metrics
    }


Judge = Callable[[list[tuple[str, str, str]]], dict[str, list[float]]]
"""``(question, gold, answer)`` triples -> verdicts per rubric (e.g. ``LLMScorer.judge_triples``)."""


def judged_ceilings(pairs: Sequence[tuple[QA, str]], judge: Judge) -> dict[str, Ceiling]:
    """J ceilings, one per rubric: ``judge`` takes ``(question, gold, answer)`` triples of the changed questions
    and returns ``{rubric: verdicts}``; unchanged questions count as CORRECT."""
    changed = [(qa.question, qa.answer, answer) for qa, answer in pairs if answer != qa.answer]
    verdicts = judge(changed) if changed else {}
    tables = {}
    for rubric, labels in verdicts.items():
        found = iter(labels)
        scored = [(qa, next(found) if answer != qa.answer else 1.0, answer != qa.answer) for qa, answer in pairs]
        tables[f"J {rubric}"] = tabulate(f"J {rubric}", scored)
    return tables


def ceilings(
    data_path: str | os.PathLike[str] | None = None, *, errata: str | Errata = "audit-v1", dedupe: bool = False,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Ceiling]:
    """Ceilings of a LoCoMo file (default: ``$MEMR2_LOCOMO_PATH`` or the dev subset) under its original golds,
    for the answers of ``errata``. Raises :class:`~memenv.data.errata.ErrataError` if the overlay does not apply."""
    from memenv.data.locomo import load_locomo

    original, _ = load_locomo(data_path, dedupe=dedupe)
    audited, _ = load_locomo(data_path, dedupe=dedupe, errata=errata)
    return pair_ceilings(ceiling_pairs(original, audited), metrics)
