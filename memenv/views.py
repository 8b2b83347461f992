"""Typed observation views: what each role sees, the contract every agent codes against.

The env builds an :class:`ExtractorView` or a :class:`ManagerView` per step, gives the model as ``info["view"]``
and its canonical JSON (:func:`view_text`) as ``observation["text"]``. An agent that only gets the observation
rebuilds the model with :func:`parse_view`; :func:`view_of` takes ``info["view"]`` when present. The schema is
documented in ``docs/environment.md`` (and ``ManagerView.model_json_schema()`` etc. give it as JSON Schema).

>>> view = ExtractorView(session=1, num_sessions=2, chunk=0, num_chunks=1, date=None, speakers=("Ann", "Bo"),
...                      turns=(Turn(speaker="Ann", dia_id="D1:1", text="Hi!"),))
>>> view_text(view)
'{"chunk":0,"date":null,"num_chunks":1,"num_sessions":2,"role":"extractor","session":1,"speakers":["Ann","Bo"],"turns":[{"dia_id":"D1:1","speaker":"Ann","text":"Hi!"}]}'
>>> parse_view({"text": view_text(view)}) == view
True
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_serializer

from memenv.actions import Fact
from memenv.bank import MemoryBank
from memenv.data.schema import Conversation, Turn

__all__ = [
    "ExtractorView",
    "FactView",
    "ManagerView",
    "MemoryView",
    "Turn",
    "View",
    "canonical_json",
    "parse_view",
    "view_of",
    "view_text",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Header(_Frozen):
    """Where the episode is; shared by both roles."""

    session: int = Field(ge=1, description="1-based index of the current session")
    num_sessions: int = Field(ge=1, description="sessions in this episode (after max_sessions)")
    chunk: int = Field(ge=0, description="0-based chunk of the session")
    num_chunks: int = Field(ge=1, description="chunks per session")
    date: str | None = Field(description="the session's date and time, as the dataset writes it")
    speakers: tuple[str, ...] = Field(description="the conversation's speakers")


class ExtractorView(_Header):
    """The extractor's view: the turns of the current chunk. ``done`` is True only on the final observation
    (after termination, with no turns) and is left out of the JSON otherwise."""

    role: Literal["extractor"] = "extractor"
    turns: tuple[Turn, ...] = ()
    done: bool = False

    @model_serializer(mode="wrap")
    def _omit_done_unless_true(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if not self.done:
            data.pop("done", None)
        return data


class FactView(_Frozen):
    """A fact from the extractor step, as the manager sees it: its position, the fact (speaker and evidence turn
    ids as attributed by the env) and the ids of the related memories (BM25 top ``retrieval_k`` of the bank)."""

    index: int = Field(ge=0)
    speaker: str | None = None
    fact: str
    dia_ids: tuple[str, ...] = ()
    related: tuple[str, ...] = ()


class MemoryView(_Frozen):
    """A memory shown to the manager (one related to some fact)."""

    memory_id: str
    content: str
    speaker: str | None = None
    session: int = Field(description="session that wrote or last updated it (0 if unknown)")
    date: str | None = None


class ManagerView(_Header):
    """The manager's view: the pending facts, the memories related to any of them (not the whole bank: there are
    ``bank_size`` memories in all), in order of first mention."""

    role: Literal["manager"] = "manager"
    facts: tuple[FactView, ...] = ()
    memories: tuple[MemoryView, ...] = ()
    bank_size: int = Field(ge=0, description="how many memories the bank holds")


View = Annotated[Union[ExtractorView, ManagerView], Field(discriminator="role")]
_VIEW = TypeAdapter(View)


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces, ASCII only (so the text lies in the ``Text`` observation space)."""
    return json.dumps(data, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def view_text(view: ExtractorView | ManagerView) -> str:
    """The observation text of a view: its canonical JSON."""
    return canonical_json(view.model_dump(mode="json"))


def parse_view(observation: dict[str, Any] | str) -> ExtractorView | ManagerView:
    """The view model rebuilt from an observation (or its ``text``); ``pydantic.ValidationError`` if malformed."""
    text = observation["text"] if isinstance(observation, dict) else observation
    return _VIEW.validate_json(text)


def view_of(observation: dict[str, Any] | str, info: dict[str, Any] | None) -> ExtractorView | ManagerView:
    """``info["view"]`` when the env gave it, else :func:`parse_view` of the observation."""
    view = (info or {}).get("view")
    return view if isinstance(view, (ExtractorView, ManagerView)) else parse_view(observation)


# -- building (used by MemoryEnv) -------------------------------------------------------------------------------
def header(conversation: Conversation, session_position: int, chunk: int, num_chunks: int) -> dict[str, Any]:
    """The header fields at 0-based ``session_position`` (clamped to the last session)."""
    session = conversation.sessions[min(session_position, len(conversation.sessions) - 1)]
    return {
        "session": session.index,
        "num_sessions": len(conversation.sessions),
        "chunk": chunk,
        "num_chunks": num_chunks,
        "date": session.date_time,
        "speakers": tuple(conversation.speakers),
    }


@functools.lru_cache(maxsize=1 << 14)
def _memory_view(memory_id: str, content: str, speaker: str | None, session: int, date: str | None) -> MemoryView:
    """A memory's (frozen) view, built once per distinct memory: a memory is shown at step after step."""
    return MemoryView(memory_id=memory_id, content=content, speaker=speaker, session=session, date=date)


def manager_view(
    head: dict[str, Any], facts: Sequence[Fact], related: Sequence[Sequence[str]], bank: MemoryBank
) -> ManagerView:
    """The manager's view of ``facts`` with their ``related`` memory ids, which ``bank`` holds."""
    shown = dict.fromkeys(memory_id for ids in related for memory_id in ids)
    memories = []
    for memory_id in shown:
        entry = bank.get(memory_id)
        memories.append(_memory_view(entry.memory_id, entry.content, entry.speaker, entry.session, entry.date))
    return ManagerView(
        **head,
        facts=tuple(
            FactView(index=i, speaker=f.speaker, fact=f.fact, dia_ids=f.dia_ids, related=tuple(ids))
            for i, (f, ids) in enumerate(zip(facts, related))
        ),
        memories=tuple(memories),
        bank_size=len(bank),
    )
