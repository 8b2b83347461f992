"""Lexical retrieval (Okapi BM25) over a :class:`~memenv.bank.MemoryBank`.

The bank keeps its own persistent inverted index, updated in O(terms of the entry) by every ADD / UPDATE /
DELETE and shared by forks, so a query never re-indexes anything: it reads the postings of its terms and applies
the BM25 formula (Robertson et al., with the Lucene idf ``log(1 + (N - df + 0.5) / (df + 0.5))``).
bm25s was measured and rejected for this: it has no incremental add (xhluca/bm25s#5) and a full re-index of
1k entries costs ~50 ms, while the bank changes at every manager step and forks at every local rerollout.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from memenv.bank import MemoryBank
from memenv.text import terms

K1 = 1.5
B = 0.75


def bm25_scores(bank: MemoryBank, query: str | Iterable[str], *, k1: float = K1, b: float = B) -> dict[str, float]:
    """BM25 score of every entry sharing at least one term with ``query`` (text or pre-split terms)."""
    n_docs = len(bank)
    if n_docs == 0:
        return {}
    avg_len = max(bank.num_terms / n_docs, 1e-9)
    scores: dict[str, float] = {}
    for term in set(terms(query) if isinstance(query, str) else query):
        postings = bank.postings(term)
        if not postings:
            continue
        df = len(postings)
        idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        for memory_id, (tf, doc_len) in postings.items():
            gain = idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doc_len / avg_len))
            scores[memory_id] = scores.get(memory_id, 0.0) + gain
    return scores


def _id_number(memory_id: str) -> int:
    return int(memory_id[1:]) if memory_id[1:].isdigit() else 0


def bm25_search(bank: MemoryBank, query: str | Iterable[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` best ``(memory_id, score)`` pairs, best first; ties go to the older entry (deterministic).

    >>> bank = MemoryBank()
    >>> bank, _ = bank.add("Alice lives in Paris")
    >>> bank, _ = bank.add("Bob plays the guitar")
    >>> [memory_id for memory_id, _ in bm25_search(bank, "Where does Alice live?", k=1)]
    ['m1']
    """
    scores = bm25_scores(bank, query)
    return heapq.nsmallest(k, scores.items(), key=lambda item: (-item[1], _id_number(item[0])))
