"""Retrieval cost of one manager step at bank sizes 100 / 1k / 10k (goal: <= 2 ms median at 1k).

At every extractor -> manager transition the env retrieves the top-``k`` related memories for each extracted
fact (``memenv.retrieval.bm25_search_many`` over the bank's persistent inverted index). This script fills a bank with
store-all memories of Synthetic-v0 conversations ("speaker: turn text", the largest banks agents build), then
times that retrieval for every session of a held-out conversation (one chunk per session), with two kinds of
extractor output: the gold facts (4 short canonical facts per step) and store-all's (every turn verbatim, 16
longer queries per step, the heaviest case).
For contrast it also times what bm25s would need for the same step, since the bank changes at every step: a
full re-index plus the queries (bm25s has no incremental add, xhluca/bm25s#5).

Usage::

    python benchmarks/retrieval_cost.py [--sizes 100 1000 10000] [--k 5] [--repeats 20] [--quick]

``--quick`` is a smoke run (sizes 100 and 1000, 2 passes, no bm25s contrast).
"""

from __future__ import annotations

import argparse
import statistics
import time

from memenv.bank import MemoryBank
from memenv.data.synthetic import generate
from memenv.retrieval import bm25_search_many


def store_all_bank(size: int) -> MemoryBank:
    """A bank of ``size`` verbatim turns from Synthetic-v0 conversations (32 sessions each, seeds 1, 2, ...)."""
    bank, seed = MemoryBank(), 1
    while len(bank) < size:
        for session in generate(seed=seed, max_sessions=32).sessions:
            for turn in session.turns[: size - len(bank)]:
                bank, _ = bank.add(f"{turn.speaker}: {turn.text}", dia_ids=(turn.dia_id,), session=session.index)
        seed += 1
    return bank


def steps_queries() -> dict[str, list[list[str]]]:
    """The facts each manager step retrieves for, per extractor: gold facts or every turn, per session of a
    held-out conversation."""
    conversation = generate(seed=0, max_sessions=32)
    gold: dict[int, list[str]] = {}
    for fact in conversation.meta["facts"]:
        gold.setdefault(fact["session"], []).append(fact["fact"])
    turns = [[f"{t.speaker}: {t.text}" for t in session.turns] for session in conversation.sessions]
    return {"gold": list(gold.values()), "store-all": turns}


def median_step_seconds(step, steps: list[list[str]], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        for queries in steps:
            start = time.perf_counter()
            step(queries)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bm25s_step(bank: MemoryBank, k: int):
    """One step as bm25s would do it on a changed bank: re-index every entry, then query; None if absent."""
    try:
        import bm25s
    except ImportError:
        return None
    corpus = [entry.text for entry in bank]

    def step(queries: list[str]) -> None:
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
        retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=min(k, len(corpus)),
                           show_progress=False)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000], help="bank sizes")
    parser.add_argument("--k", type=int, default=5, help="memories retrieved per fact (the env's retrieval_k)")
    parser.add_argument("--repeats", type=int, default=20, help="passes over the 32 steps (median reported)")
    parser.add_argument("--bm25s-repeats", type=int, default=1, help="passes for the bm25s contrast (0 = skip)")
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 100 1000, 2 passes, no bm25s")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.bm25s_repeats = [100, 1000], 2, 0
    print(f"{'entries':>8} {'extractor':>10} {'facts/step':>10} {'search step (ms)':>22} "
          f"{'bm25s reindex+query (ms)':>25}")
    results = {}
    for size in args.sizes:
        bank = store_all_bank(size)
        contrast = bm25s_step(bank, args.k) if args.bm25s_repeats else None
        for extractor, steps in steps_queries().items():
            ours = median_step_seconds(lambda qs: bm25_search_many(bank, qs, args.k), steps, args.repeats)
            theirs = median_step_seconds(contrast, steps, args.bm25s_repeats) if contrast else None
            results[size, extractor] = ours
            facts = statistics.mean(len(qs) for qs in steps)
            shown = f"{theirs * 1e3:.2f}" if theirs is not None else "n/a"
            print(f"{size:>8} {extractor:>10} {facts:>10.1f} {ours * 1e3:>22.3f} {shown:>25}")
    for (size, extractor), seconds in results.items():
        if size == 1000:
            verdict = "met" if seconds <= 2e-3 else "MISSED"
            print(f"median retrieval of one manager step at 1000 entries, {extractor} facts: {seconds * 1e3:.3f} ms "
                  f"(goal <= 2 ms: {verdict})")


if __name__ == "__main__":
    main()
