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
    With ``observation_gold=True``, ``info["gold"]`` holds LoCoMo's own annotated observations of the chunk
    (and, for the manager, ADDs of the pending facts), so the ``oracle`` agent measures an "observations as
    memory" reference: ``memr2 eval --agent oracle --env-kwargs '{"observation_gold": true}'``.

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
    questions, as published counts do), ``errata`` (None: the file's golds; ``"audit-v1"``: the LoCoMo audit's
    corrected golds and evidence ids, refused on any file but the official one and the dev subset; what it
    changed is in ``env.unwrapped.report.errata``), ``observation_gold`` (False: no ``info["gold"]``), ``scorer``
    and every other :class:`~memenv.env.MemoryEnv` argument.
    Fork with ``memenv.fork(env)`` (wrappers included) or ``env.unwrapped.clone()`` (the bare env).

    >>> import gymnasium as gym, memenv
    >>> env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=2)
    >>> obs, info = env.reset(seed=0)
    >>> info["role"], info["view"].num_sessions, env.unwrapped.conversation.conversation_id
    ('extractor', 2, 'conv-26')

    ## Version History
    * v0: initial release (LoCoMo JSON category ids 1-5, recall scorer by default); ``errata`` added later
      (default None leaves v0 unchanged).
    """

    def __init__(
        self,
        *,
        data_path: str | os.PathLike[str] | None = None,
        conversation: str | None = None,
        include_adversarial: bool = False,
        dedupe: bool = False,
        errata: str | None = None,
        observation_gold: bool = False,
        **kwargs: Any,
    ) -> None:
        conversations, report = load_locomo(data_path, dedupe=dedupe, errata=errata)
        self.report: LoadReport = report
        """What loading the data file found and tolerated (repaired evidence, captions, orphan dates, ...)."""
        if not include_adversarial:
            conversations = tuple(
                c.model_copy(update={"questions": tuple(q for q in c.questions if q.category != "adversarial")})
                for c in conversations
            )
        self.include_adversarial = include_adversarial
        self.errata = errata
        self.observation_gold = observation_gold
        self._cursor = 0
        super().__init__(conversations, conversation=conversation, **kwargs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._cursor = seed % len(self.conversations)
        return super().reset(seed=seed, options=options)

    def _dataset_state(self) -> dict[str, Any]:
        return {"cursor": self._cursor}

    def _check_dataset_state(self, dataset: dict[str, Any]) -> None:
        cursor = dataset.get("cursor", self._cursor)
        if not (isinstance(cursor, int) and 0 <= cursor < len(self.conversations)):
            raise ValueError(f"dataset.cursor must be an int in [0, {len(self.conversations)}), got {cursor!r}")

    def _restore_dataset_state(self, dataset: dict[str, Any]) -> None:
        self._cursor = dataset.get("cursor", self._cursor)

    def _select_conversation(self, options: dict[str, Any]) -> Any:
        if options.get("conversation", self.conversation_id) is not None:
            return super()._select_conversation(options)
        chosen = self.conversations[self._cursor]
        self._cursor = (self._cursor + 1) % len(self.conversations)
        return chosen

    def _gold(self) -> dict[str, Any] | None:
        """With ``observation_gold``, LoCoMo's annotated observations as gold actions (what ``oracle`` plays).

        Extractor: the session's observations whose first evidence turn lies in this chunk (those citing no turn
        of the session go with its last chunk). Manager: ADD every pending fact.
        """
        if not self.observation_gold:
            return None
        if self.role == "manager":
            return {
                "operations": [
                    {"op": "ADD", "content": f.fact, "speaker": f.speaker, "dia_ids": list(f.dia_ids)}
                    for f in self.pending_facts
                ]
            }
        session = self.conversation.sessions[self.position.session]
        in_chunk = {t.dia_id for t in self.current_turns}
        in_session = {t.dia_id for t in session.turns}
        last_chunk = self.position.chunk == self.chunks_per_session - 1
        facts = []
        for fact in self.conversation.meta.get("observations", {}).get(str(session.index), []):
            own = [d for d in fact["dia_ids"] if d in in_session]
            if (own and own[0] in in_chunk) or (not own and last_chunk):
                facts.append({"speaker": fact["speaker"], "fact": fact["fact"], "dia_ids": own})
        return {"facts": facts}
