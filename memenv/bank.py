"""The memory bank: a persistent (immutable, structurally shared) store of :class:`MemoryEntry`.

Every operation returns a *new* bank and shares everything it did not touch with the old one (hash array mapped
tries from ``immutables``, the C HAMT behind PEP 567's contextvars), so keeping a copy of a bank -- what
``MemoryEnv.clone`` does for local rerollouts -- costs O(1) in its size. The bank also keeps a BM25 inverted index
(term -> {memory_id: (tf, doc_len)}) in the same persistent form: an update costs O(terms of the entry) and forks
share the index too.

A manager step applies many operations at once: :meth:`MemoryBank.transaction` collects them and
:meth:`BankTransaction.commit` publishes one new bank, so the outer index and each touched term's postings are
copied once per step instead of once per operation. ``immutables`` replaced pyrsistent here because its maps set,
get and iterate 5-8x faster (C instead of Python); ``benchmarks/env_throughput.py`` measures the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from immutables import Map
from pydantic import BaseModel, ConfigDict, Field

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

    @property
    def index_terms(self) -> list[str]:
        """The retrieval terms this entry is indexed under (speaker and content)."""
        return terms(self.speaker or "") + terms(self.content)  # = terms of "speaker content", each part cached


class BankState(BaseModel):
    """JSON-serialisable snapshot of a bank."""

    entries: list[MemoryEntry]
    next_id: int = 1


def id_number(memory_id: str) -> int:
    """The creation number of a memory id (``"m12"`` -> 12; 0 for anything else): ids sort by it, oldest first."""
    return int(memory_id[1:]) if memory_id[1:].isdigit() else 0


_EMPTY = Map()


class MemoryBank:
    """Immutable memory bank. ``add`` / ``update`` / ``delete`` return new banks; the old one is unchanged.

    Ids are ``m1``, ``m2``, ... in order of creation, so they are deterministic for a given episode. Several
    operations in a row are cheaper as one :meth:`transaction`.

    >>> bank, entry = MemoryBank().add("Alice lives in Paris", speaker="Alice")
    >>> entry.memory_id, len(bank), bank.tokens
    ('m1', 1, 4)
    >>> bank2 = bank.delete("m1")
    >>> len(bank), len(bank2)
    (1, 0)
    """

    __slots__ = ("_entries", "_postings", "_next_id", "_tokens", "_total_terms")

    def __init__(self) -> None:
        self._entries: Map = _EMPTY  # memory_id -> MemoryEntry
        self._postings: Map = _EMPTY  # term -> Map[memory_id -> (tf, doc_len)]
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
        for memory_id in sorted(self._entries.keys(), key=id_number):
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

    def postings(self, term: str) -> Map | None:
        """``{memory_id: (tf, doc_len)}`` (a read-only mapping) for one retrieval term, or None."""
        return self._postings.get(term)

    # -- write (each returns a new bank) -------------------------------------------------------------------------
    def transaction(self) -> "BankTransaction":
        """A builder for several operations that :meth:`BankTransaction.commit` publishes as one new bank."""
        return BankTransaction(self)

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
        transaction = self.transaction()
        entry = transaction.add(content, speaker=speaker, dia_ids=dia_ids, session=session, date=date, step=step)
        return transaction.commit(), entry

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
        transaction = self.transaction()
        transaction.update(memory_id, content, dia_ids=dia_ids, session=session, date=date, step=step)
        return transaction.commit()

    def delete(self, memory_id: str) -> "MemoryBank":
        """A new bank without ``memory_id``."""
        transaction = self.transaction()
        transaction.delete(memory_id)
        return transaction.commit()

    # -- state --------------------------------------------------------------------------------------------------
    def to_state(self) -> BankState:
        return BankState(entries=list(self), next_id=self._next_id)

    @classmethod
    def from_state(cls, state: BankState) -> "MemoryBank":
        transaction = cls().transaction()
        for entry in state.entries:
            transaction._put(entry)
        transaction._next_id = state.next_id
        return transaction.commit()


class BankTransaction:
    """Operations on a bank collected into one new version: what one manager step does.

    Each operation sees the ones before it (an UPDATE may name an id ADDed earlier in the same transaction) and
    raises exactly as the bank's own method would, leaving the transaction as it was before that operation.
    :meth:`commit` returns the new bank; the bank the transaction started from never changes.

    >>> bank, _ = MemoryBank().add("Alice lives in Paris")
    >>> transaction = bank.transaction()
    >>> transaction.add("Bob plays the guitar").memory_id
    'm2'
    >>> transaction.delete("m1")
    >>> new = transaction.commit()
    >>> [entry.memory_id for entry in new], [entry.memory_id for entry in bank]
    (['m2'], ['m1'])
    """

    __slots__ = (
        "_base", "_entries", "_postings", "_touched", "_next_id", "_tokens", "_total_terms", "_changed", "_open",
    )

    def __init__(self, bank: MemoryBank) -> None:
        self._base = bank
        self._entries = bank._entries.mutate()
        self._postings = bank._postings.mutate()
        self._touched: dict[str, Any] = {}  # term -> immutables.MapMutation of its postings, finished at commit
        self._next_id, self._tokens, self._total_terms = bank._next_id, bank._tokens, bank._total_terms
        self._changed, self._open = False, True

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._entries

    def get(self, memory_id: str) -> MemoryEntry:
        """The entry ``memory_id`` as of the operations so far; :class:`UnknownMemoryError` if there is none."""
        entry = self._entries.get(memory_id)
        if entry is None:
            raise UnknownMemoryError(memory_id)
        return entry

    def add(
        self,
        content: str,
        *,
        speaker: str | None = None,
        dia_ids: Iterable[str] = (),
        session: int = 0,
        date: str | None = None,
        step: int = 0,
    ) -> MemoryEntry:
        """As :meth:`MemoryBank.add`; returns the new entry."""
        self._check_open()
        entry = MemoryEntry(
            memory_id=f"m{self._next_id}",
            content=content,
            speaker=speaker,
            dia_ids=tuple(dict.fromkeys(dia_ids)),
            session=session,
            date=date,
            step=step,
        )
        self._put(entry)
        self._next_id += 1
        return entry

    def update(
        self,
        memory_id: str,
        content: str,
        *,
        dia_ids: Iterable[str] = (),
        session: int | None = None,
        date: str | None = None,
        step: int = 0,
    ) -> MemoryEntry:
        """As :meth:`MemoryBank.update`; returns the updated entry."""
        self._check_open()
        old = self.get(memory_id)
        if not content.strip():
            raise ValueError("content must not be empty")
        entry = old.model_copy(
            update={
                "content": content,
                "dia_ids": tuple(dict.fromkeys((*old.dia_ids, *dia_ids))),
                "session": old.session if session is None else session,
                "date": date or old.date,
                "step": step,
            }
        )
        self._put(entry)
        return entry

    def delete(self, memory_id: str) -> None:
        """As :meth:`MemoryBank.delete`."""
        self._check_open()
        self._index(self.get(memory_id), -1)
        del self._entries[memory_id]

    def commit(self) -> MemoryBank:
        """The new bank holding every operation so far (the original itself if none changed it); the transaction
        cannot be used afterwards."""
        self._check_open()
        self._open = False
        if not self._changed and self._next_id == self._base._next_id:  # NOOPs only, or every operation failed
            return self._base
        for term, mutation in self._touched.items():
            postings = mutation.finish()
            if postings:
                self._postings[term] = postings
            elif term in self._postings:
                del self._postings[term]
        bank = MemoryBank.__new__(MemoryBank)
        bank._entries, bank._postings = self._entries.finish(), self._postings.finish()
        bank._next_id, bank._tokens, bank._total_terms = self._next_id, self._tokens, self._total_terms
        return bank

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("this bank transaction was already committed; start a new one with bank.transaction()")

    def _put(self, entry: MemoryEntry) -> None:
        old = self._entries.get(entry.memory_id)
        if old is not None:
            self._index(old, -1)
        self._entries[entry.memory_id] = entry
        self._index(entry, +1)

    def _index(self, entry: MemoryEntry, sign: int) -> None:
        """Add (sign +1) or remove (-1) ``entry`` in the postings of its terms and in the size counters."""
        doc_terms = entry.index_terms
        counts: dict[str, int] = {}
        for term in doc_terms:
            counts[term] = counts.get(term, 0) + 1
        touched, memory_id, doc_len = self._touched, entry.memory_id, len(doc_terms)
        for term, tf in counts.items():
            postings = touched.get(term)
            if postings is None:
                postings = touched[term] = self._postings.get(term, _EMPTY).mutate()
            if sign > 0:
                postings[memory_id] = (tf, doc_len)
            else:
                del postings[memory_id]
        self._total_terms += sign * doc_len
        self._tokens += sign * count_tokens(entry.content)
        self._changed = True
