"""``MemoryR2/LoCoMo-v0``: the LoCoMo long-conversation benchmark as a memory environment."""

from __future__ import annotations

import os
from typing import Any

from memenv.data.locomo import LoadReport, load_locomo
from memenv.envs.conversations import ConversationsEnv


class LoCoMoEnv(ConversationsEnv):
    """LoCoMo (Maharana et al., ACL 2024): build a memory of a very long two-person conversation, then answer.

    ## Description
    Each LoCoMo sample is a conversation of up to 35 dated sessions (images appear as their captions). The agent
    reads it session by session through the two-role loop of :class:`~memenv.env.MemoryEnv` (extractor lists
    facts, manager edits the bank), and the final bank is scored on the sample's questions: multi-hop, temporal,
    open-domain, single-hop and (optionally) adversarial. Each question belongs to the session holding its latest
    evidence turn, so ``session`` rewards and ``info["session_rewards"]`` credit the right session.

    The embedded default is a 3-conversation dev subset (conv-26, conv-30, conv-41; CC BY-NC 4.0, see
    ``memenv/data/locomo/README.md``); pass ``data_path`` or set ``MEMR2_LOCOMO_PATH`` for the full
    ``locomo10.json`` (``memr2 data locomo --out PATH`` downloads and verifies it).

    ## Action Space
    ``Text``: the raw model output, parsed by :func:`memenv.actions.parse_action` (JSON or line format).

    ## Observation Space
    ``Dict(role=Discrete(2), session=Discrete(S + 1), text=Text)`` with S the longest conversation's session
    count; ``text`` is the canonical JSON of the extractor or manager view (also ``info["view"]``).

    ## Rewards
    As :class:`~memenv.env.MemoryEnv`: the QA score of the bank (``scorer``, default ``recall``) minus the
    compression penalty, at the end (``reward_mode="terminal"``) or per session (``"session"``). Adversarial
    questions are left out unless ``include_adversarial=True``.

    ## Starting State
    An empty bank at session 1 of a conversation: ``options={"conversation": id}`` or the ``conversation``
    argument picks one; otherwise resets cycle through the file's conversations in order, starting at
    ``seed % num_conversations`` when a seed is given (so a seed fixes the conversation).

    ## Episode End
    Termination: after the manager step of the last chunk of the last session (``max_sessions`` caps it).
    There is no truncation.

    ## Arguments
    ``data_path`` (None: ``$MEMR2_LOCOMO_PATH`` or the dev subset), ``conversation`` (a ``sample_id``),
    ``max_sessions``, ``chunks_per_session``, ``include_adversarial`` (False), ``dedupe`` (False: keep duplicate
    questions, as published counts do), ``scorer`` and every other :class:`~memenv.env.MemoryEnv` argument.
    Fork with ``env.unwrapped.clone()`` (Gymnasium wrappers do not forward it).

    >>> import gymnasium as gym, memenv
    >>> env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=2)
    >>> obs, info = env.reset(seed=0)
    >>> info["role"], info["view"]["num_sessions"], env.unwrapped.conversation.conversation_id
    ('extractor', 2, 'conv-26')

    ## Version History
    * v0: initial release (LoCoMo JSON category ids 1-5, recall scorer by default).
    """

    def __init__(
        self,
        *,
        data_path: str | os.PathLike[str] | None = None,
        conversation: str | None = None,
        include_adversarial: bool = False,
        dedupe: bool = False,
        **kwargs: Any,
    ) -> None:
        conversations, report = load_locomo(data_path, dedupe=dedupe)
        self.report: LoadReport = report
        """What loading the data file found and tolerated (repaired evidence, captions, orphan dates, ...)."""
        if not include_adversarial:
            conversations = tuple(
                c.model_copy(update={"questions": tuple(q for q in c.questions if q.category != "adversarial")})
                for c in conversations
            )
        self.include_adversarial = include_adversarial
        self._cursor = 0
        super().__init__(conversations, conversation=conversation, **kwargs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._cursor = seed % len(self.conversations)
        return super().reset(seed=seed, options=options)

    def _select_conversation(self, options: dict[str, Any]) -> Any:
        if options.get("conversation", self.conversation_id) is not None:
            return super()._select_conversation(options)
        chosen = self.conversations[self._cursor]
        self._cursor = (self._cursor + 1) % len(self.conversations)
        return chosen
