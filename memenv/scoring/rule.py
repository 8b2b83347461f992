"""``rule``: Synthetic-v0's exact answerer. Deterministic, no retrieval model, no LLM.

A question about a key (entity, attribute) -- ``QA.meta`` gives ``entity``, ``keywords`` and ``values`` (the
key's values in order, ``"none"`` for a retraction) -- is answered from the memories *about* that key: the
sentences of an entry that name the entity and either the attribute keyword or one of the key's values.
Sentences are cut into clauses (at commas, parentheses, "and", "but", "while"), and each makes *claims*:

* a value in a clause with a past marker ("previous", "before", "used to", ...) is a **past** claim;
* a clause with the keyword and a retraction marker ("none", "no longer", "anymore") but no value is a
  current claim of ``"none"``, and turns the other values of its sentence into past claims
  ("Maya sold her Volvo and no longer has a car");
* any other value is a **current** claim.

The answerer does not reason about time: it picks uniformly among the candidates, so the score is the chance
it is right. ``current`` / ``retracted``: candidates are the current claims -- 1 when only the right value is
claimed, ``1/n`` when ``n - 1`` stale values conflict with it, 0 when it is absent. ``history`` (the value
before ``pivot``): candidates are the past claims other than ``pivot``, or all claims but ``pivot`` when there
is no past claim.

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


def claims_about(entries: Sequence[MemoryEntry], entity: str, keywords: Sequence[str], values: Sequence[str]) -> Claims:
    """The claims that ``entries`` make about one (entity, attribute) key."""
    found = Claims()
    named = _word(entity)
    value_patterns = [(v, _word(v)) for v in dict.fromkeys(values) if v != NONE]
    keyword_patterns = [_word(k) for k in keywords]
    for entry in entries:
        about = False
        for sentence in _SENTENCE.split(entry.content):
            if not named.search(sentence):
                continue
            current, past, retracted = set(), set(), False
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
            found.current |= current
            found.past |= past
        if about:
            found.entries.append(entry)
    return found


def candidates(question: QA, claims: Claims) -> set[str]:
    """The answers the time-blind reader chooses among for ``question``."""
    if question.category != "history":
        return set(claims.current)
    pivot = question.meta.get("pivot")
    past = claims.past - {pivot}
    return past if past else (claims.current | claims.past) - {pivot}


class RuleScorer:
    """Exact answers for Synthetic-v0 from the memories about each question's (entity, attribute)."""

    name = "rule"

    def score(self, questions: Sequence[QA], bank: MemoryBank) -> list[QARecord]:
        entries = list(bank)
        lowered = [entry.content.lower() for entry in entries]
        in_bank = bank_dia_ids(bank)
        by_entity: dict[str, list[MemoryEntry]] = {}
        records = []
        for question in questions:
            missing = [key for key in REQUIRED_META if key not in question.meta]
            if missing:
                raise ValueError(
                    f"the rule scorer needs Synthetic-v0 questions; {question.question!r} has no meta {missing}"
                )
            entity = question.meta["entity"]
            if entity not in by_entity:
                needle = entity.lower()
                by_entity[entity] = [e for e, low in zip(entries, lowered) if needle in low]
            claims = claims_about(by_entity[entity], entity, question.meta["keywords"], question.meta["values"])
            options = candidates(question, claims)
            score = 1.0 / len(options) if question.answer in options else 0.0
            records.append(
                make_record(
                    question,
                    score,
                    claims.entries,
                    in_bank,
                    prediction=" | ".join(sorted(options)) if options else None,
                    details={"current": sorted(claims.current), "past": sorted(claims.past)},
                )
            )
        return records
