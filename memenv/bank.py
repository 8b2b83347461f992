"""The memory bank: a persistent (immutable, structurally shared) store of :class:`MemoryEntry`.

Every operation returns a *new* bank and shares everything it did not touch with the old one (pyrsistent hash
array mapped tries), so keeping a copy of a bank -- what ``MemoryEnv.clone`` does for local rerollouts -- costs
O(1) in its size. The bank also keeps a BM25 inverted index (term -> {memory_id: (tf, doc_len)}) in the same
persistent form: an update costs O(terms of the entry) and forks share the index too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field
from pyrsistent import PMap, pmap

from memenv.text import count_tokens, terms


class UnknownMemoryError(KeyError):
    """An UPDATE or DELETE named a memory id that is not in the bank."""

    def __str__(self) -> str:
        return f"unknown memory_id {self.args[0]!r}"


class MemoryEntry(BaseModel):
    """One memory: its text plus provenance (who, which dialogue turns, which session and step wrote it)."""

    model_config = ConfigDict(frozen=True)

    memory_id: str
    content: str = Field(min_length=1)
    speaker: str | None = None
    dia_ids: tuple[str, ...] = ()
    session: int = 0
    date: str | None = None
    step: int = 0

    @property
    def text(self) -> str:
        """What an answerer sees: date, speaker and content (so temporal answers are reachable)."""
        return self.render()

    def render(self, *, date: bool = True) -> str:
        """``[date] speaker: content``; ``date=False`` leaves out the session-date prefix.

        >>> MemoryEntry(memory_id="m1", content="moved to Rome", speaker="Ann", date="2 June, 2023").render(date=False)
        'Ann: moved to Rome'
        """
        prefix = f"[{self.date}] " if self.date and date else ""
        who = f"{self.speaker}: " if self.speaker else ""
        return f"{prefix}{who}{self.content}"


class BankState(BaseModel):
    """JSON-serialisable snapshot of a bank."""

    entries: list[MemoryEntry]
    next_id: int = 1


def _id_number(memory_id: str) -> int:
    return int(memory_id[1:]) if memory_id[1:].isdigit() else 0


class MemoryBank:
    """Immutable memory bank. ``add`` / ``update`` / ``delete`` return new banks; the old one is unchanged.

    Ids are ``m1``, ``m2``, ... in order of creation, so they are deterministic for a given episode.

    >>> bank, entry = MemoryBank().add("Alice lives in Paris", speaker="Alice")
    >>> entry.memory_id, len(bank), bank.tokens
    ('m1', 1, 4)
    >>> bank2 = bank.delete("m1")
    >>> len(bank), len(bank2)
    (1, 0)
    """

    __slots__ = ("_entries", "_postings", "_next_id", "_tokens", "_total_terms")

    def __init__(self) -> None:
        self._entries: PMap = pmap()
        self._postings: PMap = pmap()  # term -> PMap[memory_id -> (tf, doc_len)]
        self._next_id = 1
        self._tokens = 0
        self._total_terms = 0

    # -- read ---------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._entries

    def __iter__(self) -> Iterator[MemoryEntry]:
        """Entries in creation order (by id number), independent of hashing."""
        for memory_id in sorted(self._entries.keys(), key=_id_number):
            yield self._entries[memory_id]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryBank) and self._entries == other._entries and self._next_id == other._next_id

    def __hash__(self) -> int:  # pragma: no cover - banks are not meant as dict keys
        return hash((self._next_id, len(self._entries)))

    def __repr__(self) -> str:
        return f"MemoryBank(entries={len(self)}, tokens={self.tokens}, next_id={self._next_id})"

    def get(self, memory_id: str) -> MemoryEntry:
        try:
            return self._entries[memory_id]
        except KeyError:
            raise UnknownMemoryError(memory_id) from None

    @property
    def tokens(self) -> int:
        """Whitespace tokens of all entries' content (the compression penalty's bank size)."""
        return self._tokens

    @property
    def next_id(self) -> int:
        return self._next_id

    @property
    def num_terms(self) -> int:
        """Total indexed terms (BM25's corpus length)."""
        return self._total_terms

    def postings(self, term: str) -> PMap | None:
        """``{memory_id: (tf, doc_len)}`` for one retrieval term, or None."""
        return self._postings.get(term)

    # -- write (each returns a new bank) -------------------------------------------------------------------------
    def _copy(self) -> "MemoryBank":
        new = MemoryBank.__new__(MemoryBank)
        new._entries, new._postings = self._entries, self._postings
        new._next_id, new._tokens, new._total_terms = self._next_id, self._tokens, self._total_terms
        return new

    def _index(self, entry: MemoryEntry, sign: int) -> None:
        doc_terms = terms(f"{entry.speaker or ''} {entry.content}")
        counts: dict[str, int] = {}
        for term in doc_terms:
            counts[term] = counts.get(term, 0) + 1
        postings = self._postings.evolver()
        for term, tf in counts.items():
            current = self._postings.get(term) or pmap()
            if sign > 0:
                postings[term] = current.set(entry.memory_id, (tf, len(doc_terms)))
            elif len(current) > 1:
                postings[term] = current.discard(entry.memory_id)
            elif term in postings:
                del postings[term]
        self._postings = postings.persistent()
        self._total_terms += sign * len(doc_terms)
        self._tokens += sign * count_tokens(entry.content)

    def _put(self, entry: MemoryEntry) -> "MemoryBank":
        new = self._copy()
        if entry.memory_id in self._entries:
            new._index(self._entries[entry.memory_id], -1)
        new._entries = self._entries.set(entry.memory_id, entry)
        new._index(entry, +1)
        return new

    def add(
        self,
        content: str,
        *,
        speaker: str | None = None,
        dia_ids: Iterable[str] = (),
        session: int = 0,
        date: str | None = None,
        step: int = 0,
    ) -> tuple["MemoryBank", MemoryEntry]:
        """A new bank with one more entry, and that entry (its id is the next ``m<N>``)."""
        entry = MemoryEntry(
            memory_id=f"m{self._next_id}",
            content=content,
            speaker=speaker,
            dia_ids=tuple(dict.fromkeys(dia_ids)),
            session=session,
            date=date,
            step=step,
        )
        new = self._put(entry)
        new._next_id = self._next_id + 1
        return new, entry

    def update(
        self,
        memory_id: str,
        content: str,
        *,
        dia_ids: Iterable[str] = (),
        session: int | None = None,
        date: str | None = None,
        step: int = 0,
    ) -> "MemoryBank":
        """A new bank where ``memory_id`` holds ``content``; its dia_ids become the union (provenance is kept)."""
        old = self.get(memory_id)
        entry = old.model_copy(
            update={
                "content": content,
                "dia_ids": tuple(dict.fromkeys((*old.dia_ids, *dia_ids))),
                "session": old.session if session is None else session,
                "date": date or old.date,
                "step": step,
            }
        )
        if not content.strip():
            raise ValueError("content must not be empty")
        return self._put(entry)

    def delete(self, memory_id: str) -> "MemoryBank":
        """A new bank without ``memory_id``."""
        old = self.get(memory_id)
        new = self._copy()
        new._index(old, -1)
        new._entries = self._entries.discard(memory_id)
        return new

    # -- state --------------------------------------------------------------------------------------------------
    def to_state(self) -> BankState:
        return BankState(entries=list(self), next_id=self._next_id)

    @classmethod
    def from_state(cls, state: BankState) -> "MemoryBank":
        bank = cls()
        for entry in state.entries:
            bank = bank._put(entry)
        bank._next_id = state.next_id
        return bank
