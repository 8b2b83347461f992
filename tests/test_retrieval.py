"""BM25 against the textbook formula computed by hand, and ranking behaviour."""

import math

import pytest

from memenv.bank import MemoryBank
from memenv.retrieval import bm25_scores, bm25_search


def _bank(*texts):
    bank = MemoryBank()
    for text in texts:
        bank, _ = bank.add(text)
    return bank


def test_bm25_matches_hand_computed_formula():
    # terms after stop words and stemming: m1 [cat, sat, mat], m2 [dog, sat], m3 [cat, cat, ran]
    bank = _bank("the cat sat on the mat", "a dog sat", "cat cat ran")
    k1, b, n, avgdl = 1.5, 0.75, 3, 8 / 3

    def term(tf, df, dl):
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

    scores = bm25_scores(bank, "cat")
    assert scores["m1"] == pytest.approx(term(1, 2, 3))
    assert scores["m3"] == pytest.approx(term(2, 2, 3))
    assert "m2" not in scores
    both = bm25_scores(bank, "cat sat")
    assert both["m1"] == pytest.approx(term(1, 2, 3) + term(1, 2, 3))


def test_search_ranks_best_first_and_breaks_ties_by_age():
    bank = _bank("Alice lives in Paris", "Bob lives in Paris", "Carol plays chess")
    assert [m for m, _ in bm25_search(bank, "Paris", k=5)] == ["m1", "m2"]
    assert [m for m, _ in bm25_search(bank, "Where does Carol play chess?", k=1)] == ["m3"]
    assert bm25_search(MemoryBank(), "anything") == []


def test_search_sees_updates_and_deletes():
    bank = _bank("Alice lives in Paris", "Bob likes tea")
    moved = bank.update("m1", "Alice lives in Rome")
    assert bm25_search(moved, "Paris") == []
    assert bm25_search(bank, "Paris")[0][0] == "m1"
    assert bm25_search(moved.delete("m2"), "tea") == []


def test_search_many_equals_one_search_per_query():
    bank = _bank("Alice: I live in Paris", "Bob: I play chess in Paris", "Alice: my cat is called Tom", "Bob: hi Alice")
    queries = ["Alice lives in Paris", "Bob chess", "cat Tom Alice", "nothing matches zzz"]
    from memenv.retrieval import bm25_search_many

    assert bm25_search_many(bank, queries, k=2) == [bm25_search(bank, q, k=2) for q in queries]
