"""``recall``: the default scorer. Deterministic, CPU-only, no model.

For each question it retrieves the top-``k`` entries (BM25 over the question) and scores the fraction of the
normalised gold-answer tokens (LoCoMo normalisation + Porter stems) that occur in them. By default the reader sees
each entry as ``[date] speaker: content``, with the date of the session that wrote it, so temporal answers are
reachable; on LoCoMo that prefix alone answers most temporal questions, so ``date_prefix=False`` reads entries
without it (both variants are on the leaderboard; see ``memenv/data/locomo/PROTOCOL.md``). Adversarial
(unanswerable) questions score ``1 - recall`` of the adversarial answer's tokens: memory should not support a
plausible wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from memenv.bank import MemoryBank
from memenv.data.schema import QA
from memenv.retrieval import bm25_search_many
from memenv.scoring.base import QARecord, bank_dia_ids, make_record


@lru_cache(maxsize=100_000)
def _token_set(text: str) -> frozenset[str]:
    from memenv.scoring.metrics import answer_tokens

    return frozenset(answer_tokens(text))


def token_recall(gold: str, context_tokens: frozenset[str]) -> float:
    """Fraction of the gold answer's distinct normalised tokens present in the context (0 for an empty gold)."""
    wanted = _token_set(gold)
    return len(wanted & context_tokens) / len(wanted) if wanted else 0.0


class RecallScorer:
    """Answer-token recall of the top-``k`` retrieved memories, read with (default) or without date prefixes."""

    name = "recall"

    def __init__(self, top_k: int = 10, date_prefix: bool = True) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = top_k
        self.date_prefix = date_prefix

    def score(self, questions: Sequence[QA], bank: MemoryBank) -> list[QARecord]:
        in_bank = bank_dia_ids(bank)
        records = []
        hits = bm25_search_many(bank, [q.question for q in questions], self.top_k)
        for question, found in zip(questions, hits):
            retrieved = [bank.get(memory_id) for memory_id, _ in found]
            read = [entry.render(date=self.date_prefix) for entry in retrieved]
            context: frozenset[str] = frozenset().union(*map(_token_set, read))
            if question.category == "adversarial":
                score = 1.0 - token_recall(question.adversarial_answer or "", context)
            else:
                score = token_recall(question.answer, context)
            records.append(make_record(question, score, retrieved, in_bank))
        return records
