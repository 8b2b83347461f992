"""Dia-id attribution: which turn (or fact) a fact (or operation) that names no evidence came from, by shared
retrieval terms."""

from __future__ import annotations

from typing import Any

from memenv.text import terms


def match_candidates(pairs: list[tuple[str, Any]]) -> list[tuple[frozenset[str], Any]]:
    """``(text, payload)`` pairs with each text turned into its retrieval terms once, for :func:`best_match`."""
    return [(frozenset(terms(text)), payload) for text, payload in pairs]


def best_match(text: str, candidates: list[tuple[frozenset[str], Any]]) -> Any:
    """The payload of the candidate sharing the most retrieval terms with ``text`` (None if none do);
    ``candidates`` come from :func:`match_candidates`."""
    wanted = set(terms(text))
    best, best_overlap = None, 0
    for candidate_terms, payload in candidates:
        overlap = len(wanted & candidate_terms)
        if overlap > best_overlap:
            best, best_overlap = payload, overlap
    return best
