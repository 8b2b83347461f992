"""``Mem0Like``: a heuristic memory agent in the spirit of Mem0 (Chhikara et al., 2025), without an LLM.

* **Extract**: every turn is cut into sentences; a sentence with at least ``min_terms`` content words (BM25
  terms, stop words removed) becomes a fact of its speaker, tied to the turn's dia_id. Greetings and short
  reactions ("Wow, that's cool!") carry too few content words and are dropped.
* **Manage**: each fact is compared with the related memories the env retrieved for it (and with facts already
  added in the same step) by Jaccard similarity of content words:

  - ``>= duplicate_threshold``, or every content word already in the memory: ``NOOP`` (a duplicate);
  - ``>= update_threshold`` with the same speaker: ``UPDATE`` that memory -- replaced by the fact when the fact
    covers the memory's words, else the fact is appended to it (up to ``max_memory_chars``);
  - otherwise ``ADD``.

>>> agent = Mem0Like()
>>> from memenv.views import ExtractorView, Turn
>>> view = ExtractorView(session=1, num_sessions=1, chunk=0, num_chunks=1, date=None, speakers=("Ann",),
...                      turns=(Turn(speaker="Ann", dia_id="D1:1", text="Hi! I adopted a puppy named Rex last week."),))
>>> [f.fact for f in agent.act({}, {"role": "extractor", "view": view}).facts]
['I adopted a puppy named Rex last week.']
"""

from __future__ import annotations

import re
from typing import Any

from memenv.actions import AddOp, ExtractAction, Fact, ManageAction, NoopOp, UpdateOp
from memenv.text import terms
from memenv.views import ExtractorView, FactView, ManagerView, MemoryView, view_of

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_CAPTION = re.compile(r"\s*\[shared ([^\]]+)\]\s*$")


def split_sentences(text: str) -> list[str]:
    """Sentences of a turn; a trailing ``[shared <caption>]`` (image turns) becomes its own sentence.

    >>> split_sentences("Great news! We moved to Oslo. [shared a photo of a fjord]")
    ['Great news!', 'We moved to Oslo.', 'shared a photo of a fjord']
    """
    caption = _CAPTION.search(text)
    body = text[: caption.start()] if caption else text
    sentences = [s.strip() for s in _SENTENCE_END.split(body) if s.strip()]
    return sentences + ([f"shared {caption.group(1).strip()}"] if caption else [])


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


class Mem0Like:
    """Heuristic extract + similarity-based ADD / UPDATE / NOOP (see the module docstring)."""

    def __init__(
        self,
        *,
        min_terms: int = 2,
        duplicate_threshold: float = 0.8,
        update_threshold: float = 0.5,
        max_memory_chars: int = 400,
    ) -> None:
        if not 0.0 <= update_threshold <= duplicate_threshold <= 1.0:
            raise ValueError("need 0 <= update_threshold <= duplicate_threshold <= 1")
        if min_terms < 1:
            raise ValueError(f"min_terms must be >= 1, got {min_terms}")
        self.min_terms = min_terms
        self.duplicate_threshold = duplicate_threshold
        self.update_threshold = update_threshold
        self.max_memory_chars = max_memory_chars

    def reset(self) -> None:
        """Stateless between steps: nothing to clear."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> ExtractAction | ManageAction:
        view = view_of(observation, info)
        if isinstance(view, ExtractorView):
            return self.extract(view)
        return self.manage(view)

    def extract(self, view: ExtractorView) -> ExtractAction:
        """Sentence-level facts with enough content words, one per sentence, tied to their turn."""
        facts = []
        for turn in view.turns:
            for sentence in split_sentences(turn.text):
                if len(set(terms(sentence))) >= self.min_terms:
                    facts.append(Fact(speaker=turn.speaker, fact=sentence, dia_ids=(turn.dia_id,)))
        return ExtractAction(facts=tuple(facts))

    def manage(self, view: ManagerView) -> ManageAction:
        """One operation per fact, deciding against the related memories and this step's earlier facts."""
        memories = {m.memory_id: m for m in view.memories}
        contents = {m.memory_id: m.content for m in view.memories}  # later facts of a step see this step's UPDATEs
        added: list[set[str]] = []
        operations: list[AddOp | UpdateOp | NoopOp] = []
        for fact in view.facts:
            words = set(terms(fact.fact))
            if any(self._duplicate(words, seen) for seen in added):
                operations.append(NoopOp())
                continue
            best_id, best_sim = None, -1.0
            for memory_id in fact.related:
                if memory_id in memories:
                    sim = jaccard(words, set(terms(contents[memory_id])))
                    if sim > best_sim:
                        best_id, best_sim = memory_id, sim
            operations.append(self._decide(fact, words, memories.get(best_id), contents, best_sim, added))
        return ManageAction(operations=tuple(operations))

    def _duplicate(self, words: set[str], other: set[str]) -> bool:
        return words <= other or jaccard(words, other) >= self.duplicate_threshold

    def _decide(
        self,
        fact: FactView,
        words: set[str],
        memory: MemoryView | None,
        contents: dict[str, str],
        similarity: float,
        added: list[set[str]],
    ) -> AddOp | UpdateOp | NoopOp:
        if memory is not None:
            current = contents[memory.memory_id]
            old_words = set(terms(current))
            if self._duplicate(words, old_words):
                return NoopOp(memory_id=memory.memory_id)
            if similarity >= self.update_threshold and memory.speaker == fact.speaker:
                content = fact.fact if old_words <= words else f"{current} {fact.fact}"
                if len(content) <= self.max_memory_chars:
                    contents[memory.memory_id] = content
                    return UpdateOp(memory_id=memory.memory_id, content=content, dia_ids=fact.dia_ids)
        added.append(words)
        return AddOp(content=fact.fact, speaker=fact.speaker, dia_ids=fact.dia_ids)
