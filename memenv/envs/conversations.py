"""``ConversationsEnv``: a memory environment over any fixed list of conversations (your own data included)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memenv.data.schema import Conversation
from memenv.env import MemoryEnv


class ConversationsEnv(MemoryEnv):
    """:class:`~memenv.env.MemoryEnv` over a fixed list of :class:`~memenv.data.schema.Conversation` s.

    ## Starting State
    ``reset(options={"conversation": id})`` picks a conversation by id (the only reset option); otherwise the ``conversation`` argument
    does; otherwise one is drawn from ``np_random`` (so a seed fixes it).

    ## Arguments
    ``conversations`` (non-empty sequence), ``conversation`` (an id to always use, or None), and every
    :class:`~memenv.env.MemoryEnv` argument (``max_sessions``, ``chunks_per_session``, ``reward_mode``, ...).

    >>> from memenv.data.schema import Conversation, Session, Turn
    >>> conv = Conversation(conversation_id="c1", speakers=("A", "B"),
    ...     sessions=(Session(index=1, turns=(Turn(speaker="A", dia_id="D1:1", text="I live in Oslo."),)),))
    >>> env = ConversationsEnv([conv])
    >>> obs, info = env.reset(seed=0)
    >>> info["role"], info["view"].turns[0].text
    ('extractor', 'I live in Oslo.')
    """

    reset_options = ("conversation",)

    def __init__(self, conversations: Sequence[Conversation], *, conversation: str | None = None, **kwargs: Any):
        self.conversations = tuple(conversations)
        if not self.conversations:
            raise ValueError("conversations must not be empty")
        self._by_id = {c.conversation_id: c for c in self.conversations}
        if conversation is not None and conversation not in self._by_id:
            raise ValueError(f"unknown conversation {conversation!r}; available: {sorted(self._by_id)}")
        self.conversation_id = conversation
        super().__init__(data_sessions=max(len(c.sessions) for c in self.conversations), **kwargs)

    def _select_conversation(self, options: dict[str, Any]) -> Conversation:
        wanted = options.get("conversation", self.conversation_id)
        if wanted is not None:
            if wanted not in self._by_id:
                raise ValueError(f"unknown conversation {wanted!r}; available: {sorted(self._by_id)}")
            return self._by_id[wanted]
        return self.conversations[int(self.np_random.integers(len(self.conversations)))]
