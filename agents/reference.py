"""``reference``: a non-privileged scripted agent for Synthetic-v1 inside the FeaturePolicy's action set.

It reads only the typed views (``info["view"]``, or the observation's JSON) -- never gold, never the env -- and
plays only what a :class:`~algorithms.policies.feature.FeaturePolicy` can play (see
:mod:`agents.restricted_oracle`): keep or drop each turn verbatim, then per fact ``ADD``, ``NOOP``, ``UPDATE j``
or ``DELETE j`` of one of its first ``num_slots`` related memories, the memory text filled from the fact. It is
the floor a trained policy of that class should beat: a claim about estimators is made only above it.

* **Extractor** (:func:`is_fact_turn`, also usable alone as the scripted role of manager-only training): keep a
  turn that names someone -- a capitalised word after its first word -- and is not a question.
* **Manager**: a statement's *key* (:func:`statement_key`) is the person it names first and the attribute it
  speaks of, read as the documented rule reader reads it (:mod:`memenv.scoring.rule`): the attribute whose
  keyword or one of whose values the statement contains, from the world's public vocabulary
  (:data:`memenv.data.synthetic.ATTRIBUTES`; nothing about the episode but the view). A fact UPDATEs the shown
  related memory whose current statement (first sentence) has the fact's key (the last written, if several).
  With none shown it ADDs, and, with ``delete_keeps_fact`` (the FeaturePolicy option the Synthetic-v1 configs
  use), it ADDs by DELETE-ing a stale duplicate among its slots -- a memory whose key a more recently written
  shown memory also states (duplicates arise when a key's memory was not among a fact's related memories).

Scores (``memr2 eval --protocol ...``): about the restricted oracle's at 8 / 16 / 32 sessions (the oracle only
reads gold to find the same key), against store-all's ~0.2. What the action set still loses at 32 sessions is
mostly duplicates: a key's memory that BM25 does not show among a fact's ``retrieval_k`` related memories.
The settings were chosen on training seeds only (``benchmarks/reference_agent_tuning.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from agents.restricted_oracle import ADD, current_statement, manager_operations, related_slots
from memenv.actions import ExtractAction, Fact, ManageAction
from memenv.bank import id_number
from memenv.data.synthetic import ATTRIBUTES
from memenv.views import ExtractorView, ManagerView, Turn, view_of

_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_WORD = re.compile(r"[a-z]+")
Key = tuple[str, str]


def named(text: str) -> list[str]:
    """Capitalised words after the text's first word: the people (and places, brands) it names.

    >>> named("By the way, your cousin Maya moved to Oslo!"), named("Did you watch the match?")
    (['Maya', 'Oslo'], [])
    """
    first = re.match(r"\s*\S+", text)
    return _NAME.findall(text[first.end() if first else 0 :])


def is_fact_turn(text: str) -> bool:
    """The rule extractor: a turn that names someone and is not a question.

    >>> is_fact_turn("Oh, my neighbour Mateo lives in Denver these days."), is_fact_turn("Did you watch the match on Sunday?")
    (True, False)
    """
    return bool(named(text)) and "?" not in text


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, str]:
    """Word -> attribute, from each attribute's keyword and values (the words the rule reader keys on); a word
    shared by two attributes is left out."""
    owners: dict[str, set[str]] = {}
    for attribute in ATTRIBUTES:
        for word in (attribute.keyword, *attribute.values):
            owners.setdefault(word.lower(), set()).add(attribute.name)
    return {word: next(iter(names)) for word, names in owners.items() if len(names) == 1}


def statement_key(statement: str) -> Key | None:
    """``(person, attribute)`` a statement speaks of, or None when it names nobody or no attribute.

    >>> statement_key("Fun update: your cousin Maya has a new address in Tucson."), statement_key("Hi there.")
    (('Maya', 'city'), None)
    """
    people = named(statement)
    words = vocabulary()
    attribute = next((words[w] for w in _WORD.findall(statement.lower()) if w in words), None)
    return (people[0], attribute) if people and attribute else None


class ReferenceAgent:
    """See the module docstring. ``num_slots`` as the FeaturePolicy's (5). ``delete_keeps_fact`` as the
    FeaturePolicy's option: when true, a fact that would be ADDed instead DELETEs a stale duplicate among its
    slots (a shown memory whose key a more recently written shown memory also states), which also ADDs it.
    ``target``: which of several shown memories with the fact's key an UPDATE picks (the last or the first
    written: by session, then creation)."""

    privileged = False

    def __init__(
        self, num_slots: int = 5, delete_keeps_fact: bool = True, target: Literal["last", "first"] = "last"
    ) -> None:
        if target not in ("last", "first"):
            raise ValueError(f"target={target!r}: choose 'last' or 'first'")
        self.num_slots, self.delete_keeps_fact, self.target = num_slots, delete_keeps_fact, target

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> ExtractAction | ManageAction:
        view = view_of(observation, info)
        if isinstance(view, ExtractorView):
            return extract(view.turns)
        return self.manage(view)

    def manage(self, view: ManagerView) -> ManageAction:
        """One option per fact (see the module docstring)."""
        keys = {m.memory_id: statement_key(current_statement(m.content)) for m in view.memories}
        written = {m.memory_id: (m.session, id_number(m.memory_id)) for m in view.memories}
        latest: dict[Key, str] = {}
        for memory_id, key in keys.items():
            if key is not None and (key not in latest or written[memory_id] > written[latest[key]]):
                latest[key] = memory_id
        stale = {m for m, key in keys.items() if key is not None and latest[key] != m}
        choices = []
        for fact in view.facts:
            key = statement_key(fact.fact)
            slots = related_slots(fact, view, self.num_slots)
            same = [j for j, m in enumerate(slots) if key is not None and keys[m] == key]
            if same:
                pick = max if self.target == "last" else min
                choices.append(2 + pick(same, key=lambda j: written[slots[j]]))
                continue
            dupes = [j for j, m in enumerate(slots) if m in stale]
            if self.delete_keeps_fact and dupes:
                choices.append(2 + self.num_slots + dupes[0])
                continue
            choices.append(ADD)
        return manager_operations(view, choices, self.num_slots, delete_keeps_fact=self.delete_keeps_fact)


def extract(turns: tuple[Turn, ...] | list[Turn]) -> ExtractAction:
    """The rule extractor's action: every fact turn (:func:`is_fact_turn`) verbatim."""
    kept = [t for t in turns if is_fact_turn(t.text)]
    return ExtractAction(facts=tuple(Fact(speaker=t.speaker, fact=t.text, dia_ids=(t.dia_id,)) for t in kept))

