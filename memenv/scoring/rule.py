"""``rule``: Synthetic's exact answerer. Deterministic, no LLM.

A question about a key (entity, attribute) -- ``QA.meta`` gives ``entity``, ``keywords`` and ``values`` (the
key's values in order, ``"none"`` for a retraction) -- is answered from the memories *about* that key: the
sentences of an entry that name the entity and either the attribute keyword or one of the key's values.
Sentences are cut into clauses (at commas, parentheses, "and", "but", "while"), and each makes *claims*:

* a value in a clause with a past marker ("previous", "before", "used to", ...) is a **past** claim;
* a clause with the keyword and a retraction marker ("none", "no longer", "anymore") but no value is a
  current claim of ``"none"``, and turns the other values of its sentence into past claims
  ("Maya sold her Volvo and no longer has a car");
* any other value is a **current** claim.

The lenient reader (Synthetic-v0, the default) does not reason about time: it picks uniformly among the
candidates, so the score is the chance it is right. ``current`` / ``retracted``: candidates are the current claims -- 1 when only the right value is
claimed, ``1/n`` when ``n - 1`` stale values conflict with it, 0 when it is absent. ``history`` (the value
before ``pivot``): candidates are the past claims other than ``pivot``, or all claims but ``pivot`` when there
is no past claim. The strict reader of Synthetic-v1 (``RuleScorer(top_k=5, strict=True)``) reads only the
retrieved memories, credits claims per memory and scores 1 only for exactly the right value (see
:class:`RuleScorer`).

>>> from memenv.bank import MemoryBank
>>> from memenv.data.schema import QA
>>> bank, _ = MemoryBank().add("Maya's city is Lisbon. Maya's previous city was Porto.")
>>> meta = {"entity": "Maya", "keywords": ["city"], "values": ["Porto", "Lisbon"]}
>>> q = QA(question="Which city does Maya live in?", answer="Lisbon", category="current", session=1, meta=meta)
>>> RuleScorer().score([q], bank)[0].score
1.0
>>> bank, _ = bank.add("Maya just moved to Porto!")
>>> RuleScorer().score([q], bank)[0].score
0.5
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from memenv.bank import MemoryBank, MemoryEntry
from memenv.data.schema import QA
from memenv.retrieval import bm25_search_many
from memenv.scoring.base import QARecord, bank_dia_ids, make_record

NONE = "none"
PAST = re.compile(r"\b(previous|previously|before|formerly|former|used to|earlier|no longer|any ?more)\b", re.I)
RETRACTED = re.compile(r"\b(none|no longer|any ?more)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_CLAUSE = re.compile(r"[,:()]|\b(?:and|but|while)\b", re.I)
REQUIRED_META = ("entity", "keywords", "values")


@lru_cache(maxsize=4096)
def _word(text: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(text)}\b", re.I)


@dataclass
class Claims:
    """What the memories about one key say: current and past values, and which entries said it."""

    current: set[str] = field(default_factory=set)
    past: set[str] = field(default_factory=set)
    entries: list[MemoryEntry] = field(default_factory=list)


def _sentence_claims(
    sentence: str, value_patterns: list[tuple[str, re.Pattern[str]]], keyword_patterns: list[re.Pattern[str]]
) -> tuple[set[str], set[str], bool]:
    """(current values, past values, whether it is about the key at all) of one sentence that names the entity."""
    current, past, retracted, about = set(), set(), False, False
    for clause in _CLAUSE.split(sentence):
        stated = {v for v, pattern in value_patterns if pattern.search(clause)}
        has_keyword = any(p.search(clause) for p in keyword_patterns)
        about = about or bool(stated) or has_keyword
        if stated:
            (past if PAST.search(clause) else current).update(stated)
        elif has_keyword and RETRACTED.search(clause):
            retracted = True
    if retracted:
        current, past = {NONE}, past | current
    return current, past, about


def _patterns(keywords: Sequence[str], values: Sequence[str]):
    value_patterns = [(v, _word(v)) for v in dict.fromkeys(values) if v != NONE]
    return value_patterns, [_word(k) for k in keywords]


def claims_about(entries: Sequence[MemoryEntry], entity: str, keywords: Sequence[str], values: Sequence[str]) -> Claims:
    """The claims that ``entries`` make about one (entity, attribute) key, pooled over every sentence that names
    the entity (the lenient v0 reader)."""
    found = Claims()
    named = _word(entity)
    value_patterns, keyword_patterns = _patterns(keywords, values)
    for entry in entries:
        about = False
        for sentence in _SENTENCE.split(entry.content):
            if not named.search(sentence):
                continue
            current, past, about_sentence = _sentence_claims(sentence, value_patterns, keyword_patterns)
            about = about or about_sentence
            found.current |= current
            found.past |= past
        if about:
            found.entries.append(entry)
    return found


def memory_claims(entries: Sequence[MemoryEntry], entity: str, keywords: Sequence[str], values: Sequence[str]) -> Claims:
    """The claims about one key credited **per memory** (the strict v1 reader): a memory speaks for the key only
    when its first sentence names the entity and states the key's current value (or its retraction); then all of
    its sentences about the key count. A memory about another key that merely mentions this key's old value in
    a "previously ..." clause -- what an UPDATE of the wrong memory leaves -- says nothing about this key.

    >>> from memenv.bank import MemoryEntry
    >>> right = MemoryEntry(memory_id="m1", content="Maya moved to Oslo! Previously Maya lived in Lisbon.")
    >>> wrong = MemoryEntry(memory_id="m2", content="Maya works as a nurse. Previously Maya lived in Lisbon.")
    >>> c = memory_claims([right, wrong], "Maya", ["city"], ["Lisbon", "Oslo"])
    >>> sorted(c.current), sorted(c.past), [e.memory_id for e in c.entries]
    (['Oslo'], ['Lisbon'], ['m1'])
    """
    found = Claims()
    keywords, values = tuple(keywords), tuple(values)
    for entry in entries:
        claims = _entry_claims(entry.content, entity, keywords, values)
        if claims is not None:
            found.current |= claims[0]
            found.past |= claims[1]
            found.entries.append(entry)
    return found


@lru_cache(maxsize=1 << 16)
def _entry_claims(
    content: str, entity: str, keywords: tuple[str, ...], values: tuple[str, ...]
) -> tuple[frozenset[str], frozenset[str]] | None:
    """(current, past) values one memory claims for a key under :func:`memory_claims`, or None when it does not
    speak for the key. Memoised: the scorer and the diagnostics read the same memories session after session."""
    named = _word(entity)
    value_patterns, keyword_patterns = _patterns(keywords, values)
    sentences = _SENTENCE.split(content.strip())
    if not named.search(sentences[0]):
        return None
    first_current, _, _ = _sentence_claims(sentences[0], value_patterns, keyword_patterns)
    if not first_current:
        return None
    current: set[str] = set()
    past: set[str] = set()
    for sentence in sentences:
        if named.search(sentence):
            sentence_current, sentence_past, _ = _sentence_claims(sentence, value_patterns, keyword_patterns)
            current |= sentence_current
            past |= sentence_past
    return frozenset(current), frozenset(past)


def candidates(question: QA, claims: Claims, *, strict: bool = False) -> set[str]:
    """The answers the time-blind reader chooses among for ``question``.

    ``current`` / ``retracted``: the current claims. ``history`` (the value before ``pivot``): the explicit past
    claims other than ``pivot``; the lenient reader falls back to every claim but ``pivot`` when there is none.
    """
    if question.category != "history":
        return set(claims.current)
    pivot = question.meta.get("pivot")
    past = claims.past - {pivot}
    if past or strict:
        return past
    return (claims.current | claims.past) - {pivot}


class RuleScorer:
    """Exact answers for Synthetic questions from the memories about each question's (entity, attribute).

    Arguments (Synthetic-v0 uses the defaults; Synthetic-v1 uses ``top_k=5, strict=True``):

    * ``top_k``: ``None`` reads every memory that names the question's entity (v0). An int reads only the
      ``top_k`` memories that BM25 retrieves for the question expanded with its attribute's cue words
      (``QA.meta["cues"]``, e.g. "moved", "lives" for a city), as a retrieval-based memory system would; so a
      bloated bank can crowd the right memory out.
    * ``strict``: ``False`` (v0) pools claims over all read memories, scores a conflicted answer ``1/n`` and lets
      a history question without an explicit past claim fall back to "any value but the latest". ``True`` credits
      claims per memory (:func:`memory_claims`), scores 1 only when the read memories claim exactly the right
      value (a stale conflicting value makes it 0), and answers history questions from explicit past claims only.
    """

    name = "rule"

    def __init__(self, top_k: int | None = None, strict: bool = False) -> None:
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None (every memory naming the entity), got {top_k}")
        self.top_k, self.strict = top_k, strict

    def _read(self, questions: Sequence[QA], bank: MemoryBank) -> list[list[MemoryEntry]]:
        """The memories the reader sees for each question."""
        if self.top_k is not None:
            queries = [" ".join([q.question, *q.meta.get("cues", ())]) for q in questions]
            return [[bank.get(memory_id) for memory_id, _ in hits] for hits in bm25_search_many(bank, queries, self.top_k)]
        entries = list(bank)
        lowered = [entry.content.lower() for entry in entries]
        by_entity: dict[str, list[MemoryEntry]] = {}
        for question in questions:
            needle = question.meta["entity"].lower()
            if needle not in by_entity:
                by_entity[needle] = [e for e, low in zip(entries, lowered) if needle in low]
        return [by_entity[q.meta["entity"].lower()] for q in questions]

    def score(self, questions: Sequence[QA], bank: MemoryBank) -> list[QARecord]:
        for question in questions:
            missing = [key for key in REQUIRED_META if key not in question.meta]
            if missing:
                raise ValueError(
                    f"the rule scorer needs Synthetic-v0/v1 questions; {question.question!r} has no meta {missing}"
                )
        in_bank = bank_dia_ids(bank)
        read_claims = memory_claims if self.strict else claims_about
        records = []
        for question, entries in zip(questions, self._read(questions, bank)):
            meta = question.meta
            claims = read_claims(entries, meta["entity"], meta["keywords"], meta["values"])
            options = candidates(question, claims, strict=self.strict)
            if self.strict:
                score = float(options == {question.answer})
            else:
                score = 1.0 / len(options) if question.answer in options else 0.0
            records.append(
                make_record(
                    question,
                    score,
                    claims.entries if self.top_k is None else entries,
                    in_bank,
                    prediction=" | ".join(sorted(options)) if options else None,
                    details={"current": sorted(claims.current), "past": sorted(claims.past)},
                )
            )
        return records
