"""A memory env's position in its episode (:class:`Position`), its saved state (``EnvState``: JSON, no pickle),
and the checks a state must pass before it is restored."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from memenv.actions import MAX_ACTION_ITEMS, MAX_TEXT_CHARS, AddOp, Fact
from memenv.bank import BankState
from memenv.data.schema import Conversation


@dataclass(frozen=True)
class Position:
    """Where an episode is: 0-based session and chunk, whose turn it is, and whether it has ended. Immutable: the env
    holds one value and replaces it (a clone shares it safely)."""

    session: int = 0
    chunk: int = 0
    role: Literal["extractor", "manager"] = "extractor"
    terminated: bool = False

    def next(self, chunks_per_session: int, num_sessions: int) -> "Position":
        """The position after this step: the manager follows the extractor on the same chunk; after the manager
        comes the next chunk, the next session, or -- after the last chunk of the last session -- the end (which
        stays at that last chunk)."""
        if self.role == "extractor":
            return dataclasses.replace(self, role="manager")
        if self.chunk + 1 < chunks_per_session:
            return Position(self.session, self.chunk + 1)
        if self.session + 1 < num_sessions:
            return Position(self.session + 1, 0)
        return Position(self.session, self.chunk, "extractor", terminated=True)

    def fields(self) -> dict[str, Any]:
        """The position as :class:`EnvState` stores it (flat fields, so saved states keep their format)."""
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, state: "EnvState") -> "Position":
        return cls(state.session, state.chunk, state.role, state.terminated)


class EnvState(BaseModel):
    """Everything needed to resume an episode exactly; JSON-serialisable (no pickle)."""

    conversation: Conversation
    bank: BankState
    session: int
    chunk: int
    role: Literal["extractor", "manager"]
    facts: list[Fact]
    related: list[list[str]]
    steps: int
    invalid_actions: int
    terminated: bool
    rng_state: dict[str, Any]
    dataset: dict[str, Any] = {}
    """What the dataset subclass needs besides the episode (e.g. LoCoMo's cursor over conversations)."""


def entry_problem(entry: Any) -> str | None:
    """Why a bank entry could not have been written by an action (its content, speaker or dialogue ids over the
    action limits of :mod:`memenv.actions`, a lone surrogate, a date over ``MAX_TEXT_CHARS``), or None."""
    try:
        AddOp(content=entry.content, speaker=entry.speaker, dia_ids=entry.dia_ids)
    except ValidationError as exc:
        error = exc.errors()[0]
        return f"memory {entry.memory_id}: {'.'.join(map(str, error['loc']))}: {error['msg']}"[:300]
    if len(entry.date or "") > MAX_TEXT_CHARS:
        return f"memory {entry.memory_id}: its date is {len(entry.date)} characters (at most {MAX_TEXT_CHARS})"
    return None


def check_state(state: EnvState, chunks_per_session: int, max_sessions: int | None = None) -> None:
    """Raise ValueError naming the first inconsistency of ``state``: at most ``max_sessions`` sessions, every
    question about one of them, bank entries and pending facts within the limits of an action
    (:func:`entry_problem`, at most ``MAX_ACTION_ITEMS`` facts), ids ``m<N>`` unique and below ``next_id``, session
    and chunk in range, a terminated state at the last chunk, pending facts (one related list each) only in the
    manager phase, related ids in the bank, ``0 <= invalid_actions <= steps``. The env checks the rest (RNG, dataset
    position) before it changes anything."""
    sessions = len(state.conversation.sessions)
    if max_sessions is not None and sessions > max_sessions:
        raise ValueError(f"the conversation has {sessions} sessions; this env plays at most {max_sessions}")
    late = next((q for q in state.conversation.questions if q.session > sessions), None)
    if late is not None:
        raise ValueError(f"question {late.question[:60]!r} is about session {late.session}, past the last session "
                         f"({sessions}) of the conversation")
    problem = next((p for p in map(entry_problem, state.bank.entries) if p), None)
    if problem:
        raise ValueError(f"a bank entry is over the limits of an action: {problem}")
    if len(state.facts) > MAX_ACTION_ITEMS:
        raise ValueError(f"{len(state.facts)} pending facts; an extractor action holds at most {MAX_ACTION_ITEMS}")
    ids = [entry.memory_id for entry in state.bank.entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate memory ids in the bank: {sorted({i for i in ids if ids.count(i) > 1})}")
    for memory_id in ids:
        if not re.fullmatch(r"m[1-9][0-9]*", memory_id, flags=re.ASCII):
            raise ValueError(f"memory id {memory_id!r} is not of the form m<N>")
        if int(memory_id[1:]) >= state.bank.next_id:
            raise ValueError(f"bank.next_id {state.bank.next_id} must exceed every id (found {memory_id})")
    if not 0 <= state.session < sessions:
        raise ValueError(f"session {state.session} out of range for {sessions} sessions")
    if not 0 <= state.chunk < chunks_per_session:
        raise ValueError(f"chunk {state.chunk} out of range for {chunks_per_session} chunks per session")
    if state.terminated and (state.session, state.chunk) != (sessions - 1, chunks_per_session - 1):
        raise ValueError("a terminated state must be at the last chunk of the last session")
    if len(state.related) != len(state.facts) or (state.role == "extractor" and state.facts):
        raise ValueError("pending facts (and their related ids, one list per fact) exist only for the manager")
    unknown = {i for related in state.related for i in related} - set(ids)
    if unknown:
        raise ValueError(f"related memory ids not in the bank: {sorted(unknown)}")
    if not 0 <= state.invalid_actions <= state.steps:
        raise ValueError(f"need 0 <= invalid_actions ({state.invalid_actions}) <= steps ({state.steps})")
