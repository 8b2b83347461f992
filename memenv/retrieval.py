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

from memenv.bank import MemoryBank, id_number
from memenv.text import terms

K1 = 1.5
B = 0.75


def _term_gains(bank: MemoryBank, term: str, k1: float, b: float) -> dict[str, float]:
    """BM25 contribution of one term to every entry that contains it."""
    postings = bank.postings(term)
    if not postings:
        return {}
    n_docs = len(bank)
    avg_len = max(bank.num_terms / n_docs, 1e-9)
    df = len(postings)
    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    norm = k1 * (1.0 - b), k1 * b / avg_len
    return {
        memory_id: idf * tf * (k1 + 1.0) / (tf + norm[0] + norm[1] * doc_len)
        for memory_id, (tf, doc_len) in postings.items()
    }


def _query_terms(query: str | Iterable[str]) -> list[str]:
    """The distinct terms of ``query``, sorted (an order that does not depend on the process, unlike a ``set``'s,
    which follows the string hash seed, ``PYTHONHASHSEED``, random per process)."""
    return sorted(set(terms(query) if isinstance(query, str) else query))


def _sum_gains(gains: list[dict[str, float]]) -> dict[str, float]:
    """Each entry's score: the correctly rounded sum of its term gains (:func:`math.fsum`), so it depends on the
    gains alone, not on the order the terms come in. A plain ``+`` in term order rounds differently for different
    orders: two entries with equal scores could then differ in the last bit and rank either way, so which one a
    manager step shows first or a scorer reads changed with the order. Copies the largest dict (C speed) and
    collects only the other terms' gains per entry."""
    if not gains:
        return {}
    gains = sorted(gains, key=len, reverse=True)
    scores = dict(gains[0])
    rest: dict[str, list[float]] = {}
    for other in gains[1:]:
        for memory_id, gain in other.items():
            parts = rest.get(memory_id)
            if parts is None:
                rest[memory_id] = [gain]
            else:
                parts.append(gain)
    for memory_id, parts in rest.items():
        if memory_id in scores:
            parts.append(scores[memory_id])
        scores[memory_id] = math.fsum(parts) if len(parts) > 1 else parts[0]
    return scores


def bm25_scores(bank: MemoryBank, query: str | Iterable[str], *, k1: float = K1, b: float = B) -> dict[str, float]:
    """BM25 score of every entry sharing at least one term with ``query`` (text or pre-split terms)."""
    if not len(bank):
        return {}
    return _sum_gains([_term_gains(bank, term, k1, b) for term in _query_terms(query)])


def _top_k(scores: dict[str, float], k: int) -> list[tuple[str, float]]:
    """Best ``k`` by score, ties to the older entry. The k-th best score is found on bare floats (C speed), so
    only the few entries at or above it are sorted with the Python tie-break key."""
    if len(scores) > k:
        threshold = heapq.nlargest(k, scores.values())[-1]
        scores = {memory_id: score for memory_id, score in scores.items() if score >= threshold}
    return sorted(scores.items(), key=lambda item: (-item[1], id_number(item[0])))[:k]


def bm25_search(bank: MemoryBank, query: str | Iterable[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` best ``(memory_id, score)`` pairs, best first; ties go to the older entry (deterministic).

    >>> bank = MemoryBank()
    >>> bank, _ = bank.add("Alice lives in Paris")
    >>> bank, _ = bank.add("Bob plays the guitar")
    >>> [memory_id for memory_id, _ in bm25_search(bank, "Where does Alice live?", k=1)]
    ['m1']
    """
    return _top_k(bm25_scores(bank, query), k)


def bm25_search_many(bank: MemoryBank, queries: Iterable[str | Iterable[str]], k: int = 5) -> list[list[tuple[str, float]]]:
    """:func:`bm25_search` for several queries against one bank (a manager step's facts, a scorer's questions).

    Each distinct term's gains are computed once and shared by every query that contains it; a speaker's name,
    which is in most facts and a large share of entries, would otherwise be re-scored for every fact.
    """
    if not len(bank):
        return [[] for _ in queries]
    cache: dict[str, dict[str, float]] = {}
    results = []
    for query in queries:
        gains = []
        for term in _query_terms(query):
            if term not in cache:
                cache[term] = _term_gains(bank, term, K1, B)
            gains.append(cache[term])
        results.append(_top_k(_sum_gains(gains), k))
    return results
