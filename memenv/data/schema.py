"""Conversation data model shared by every dataset (LoCoMo, Synthetic).

A :class:`Conversation` has numbered :class:`Session` s of :class:`Turn` s and a list of :class:`QA` items.
Each question is attached to the session that holds its latest evidence turn (``QA.session``), which is what
session rewards and the ``persession`` reward attribution use.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DataError(ValueError):
    """A data file is corrupt or misses a required field; the message names the file, the sample and the field."""


class Turn(BaseModel):
    """One utterance. ``text`` already includes any shared image caption."""

    model_config = ConfigDict(frozen=True)

    speaker: str
    dia_id: str
    text: str


class Session(BaseModel):
    """One dated session of a conversation; ``index`` starts at 1."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1)
    date_time: str | None = None
    turns: tuple[Turn, ...]


class QA(BaseModel):
    """A question about the conversation.

    ``category`` is a name (``"single-hop"``, ``"temporal"``, ...), ``category_id`` the dataset's own id if any.
    ``session`` is the session holding the latest evidence turn (1-based). ``meta`` carries dataset-specific
    fields, e.g. Synthetic's ``entity`` / ``attribute`` / ``kind`` used by the rule scorer.
    """

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str
    category: str
    category_id: int | None = None
    evidence: tuple[str, ...] = ()
    session: int = Field(ge=1)
    adversarial_answer: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Conversation(BaseModel):
    """A multi-session conversation between two speakers, with its questions."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    speakers: tuple[str, ...]
    sessions: tuple[Session, ...]
    questions: tuple[QA, ...] = ()
    meta: dict[str, Any] = Field(default_factory=dict)

    def truncated(self, max_sessions: int | None) -> "Conversation":
        """The first ``max_sessions`` sessions and the questions answerable from them."""
        if max_sessions is None or max_sessions >= len(self.sessions):
            return self
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        return self.model_copy(
            update={
                "sessions": self.sessions[:max_sessions],
                "questions": tuple(q for q in self.questions if q.session <= max_sessions),
            }
        )
