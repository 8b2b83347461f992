"""``MemoryR2/Synthetic-v0`` and ``-v1``: the procedural world of :mod:`memenv.data.synthetic` as a :class:`MemoryEnv`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memenv.bank import MemoryBank
from memenv.data import synthetic
from memenv.data.schema import Conversation
from memenv.env import MemoryEnv, SessionCredit
from memenv.scoring.rule import memory_claims
from memenv.views import ExtractorView, ManagerView


def memories_about(bank: MemoryBank, keys: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Per (entity, attribute) key, the ids of the memories that speak for it -- those whose first sentence
    states its current value or retraction (:func:`memenv.scoring.rule.memory_claims`) -- oldest first."""
    if not keys:
        return []
    entries = [(entry, entry.content.lower()) for entry in bank]
    named_by_entity: dict[str, list] = {}  # a chunk's facts often share an entity: filter the bank once per entity
    found = []
    for entity, attribute in keys:
        attr = synthetic.ATTRIBUTE_BY_NAME[attribute]
        if entity not in named_by_entity:
            named_by_entity[entity] = [entry for entry, lowered in entries if entity.lower() in lowered]
        claims = memory_claims(named_by_entity[entity], entity, [attr.keyword], attr.values)
        found.append([e.memory_id for e in claims.entries])
    return found


class SyntheticEnv(MemoryEnv):
    """Two speakers chat about people they know; attributes are introduced, updated and retracted over sessions.

    ## Description
    A fast, exact benchmark for memory management. Each episode is a fresh procedural conversation
    (:func:`memenv.data.synthetic.generate`): every session tells ``facts_per_session`` changes ("My cousin Maya
    just moved to Lisbon!") among chit-chat, and the questions ask for current values ("Which city does Maya
    live in?"), retracted ones (answer ``"none"``) and history ("What was Maya's city before Lisbon?"). The
    default ``rule`` scorer answers exactly from the memories about each (entity, attribute): a bank with no
    memory scores 0, one memory per key holding its value and the one before scores 1, and keeping every turn
    is hurt by stale values that conflict with the current one (and by the compression penalty).

    v0 is lenient (store-all reaches 0.80 of the oracle at 8 sessions); :class:`SyntheticV1Env` is the testbed
    where targeted UPDATE decides the score.

    ## Action Space
    ``Text``, as :class:`~memenv.env.MemoryEnv`: extractor facts / manager operations in JSON or line format.

    ## Observation Space
    ``Dict(role=Discrete(2), session=Discrete(max_sessions + 1), text=Text)``, as :class:`~memenv.env.MemoryEnv`.

    ## Privileged information (opt-in)
    Only with ``privileged=True`` (off by default, so no agent under evaluation can read the answers):
    ``info["gold"]`` holds the ideal action -- ``{"facts": [...]}`` for the extractor (canonical "<Entity>'s
    <attribute> is <value>." facts of the chunk) and ``{"operations": [...]}`` for the manager (the ideal ADD /
    UPDATE against the *current* bank) -- and ``info["gold_facts"]`` the world's record of each change told in the
    chunk (``entity``, ``attribute``, ``value``, ``previous``, ``kind``, ``dia_id``), in the manager's step with
    ``memories``: the ids of the memories that currently speak for its key (:func:`memories_about`), i.e. the
    right UPDATE targets.
    The ``oracle`` and ``restricted-oracle`` agents need it; result files record it.

    ## Rewards
    As :class:`~memenv.env.MemoryEnv` (``reward_mode`` terminal or session, compression penalty, invalid-action
    penalty), with the ``rule`` scorer by default.

    ## Starting State
    An empty bank and a conversation generated from a seed drawn from ``np_random`` (its id is
    ``synthetic-<seed>``), or from ``reset(options={"conversation_seed": n})``. Same seed, same episode.

    ## Episode End
    Termination: after the manager step of the last chunk of session ``max_sessions``. No truncation.

    ## Arguments
    ``max_sessions`` (8; the curriculum uses 8 / 16 / 32), ``facts_per_session`` (4), ``update_rate`` (0.3),
    ``retract_rate`` (0.1), ``distractor_rate`` (0.5, fraction of chit-chat turns), ``num_entities`` (8),
    ``num_attributes`` (7), ``question_evidence`` ("latest"), ``reader_k`` (None: the rule scorer reads every
    memory naming the entity; an int: only the top-k retrieved for the question), ``strict`` (False: lenient
    rule scorer), ``privileged`` (False), and every :class:`~memenv.env.MemoryEnv` argument
    (``chunks_per_session``, ``reward_mode``, ``compression_coef``, ``retrieval_k``, ``session_credit``,
    ``scorer`` ("rule"), ...). The fork API is ``env.unwrapped.clone()`` / ``get_state()`` / ``set_state()``.

    >>> import gymnasium as gym, memenv
    >>> env = gym.make("MemoryR2/Synthetic-v0", max_sessions=8, privileged=True)
    >>> obs, info = env.reset(seed=0)
    >>> info["role"], info["view"].num_sessions, sorted(info["gold"])
    ('extractor', 8, ['facts'])
    >>> "gold" in gym.make("MemoryR2/Synthetic-v0").reset(seed=0)[1]
    False

    ## Version History
    * v0: initial version.
    * v0 (unchanged dynamics and rewards): gold actions became opt-in (``privileged=True``).
    """

    reset_options = ("conversation_seed",)

    def __init__(
        self,
        *,
        max_sessions: int = 8,
        facts_per_session: int = 4,
        update_rate: float = 0.3,
        retract_rate: float = 0.1,
        distractor_rate: float = 0.5,
        num_entities: int = 8,
        num_attributes: int = len(synthetic.ATTRIBUTES),
        question_evidence: str = "latest",
        reader_k: int | None = None,
        strict: bool = False,
        privileged: bool = False,
        scorer: Any = "rule",
        scorer_kwargs: dict[str, Any] | None = None,
        session_credit: SessionCredit = "latest",
        **kwargs: Any,
    ) -> None:
        self.world = synthetic.SyntheticConfig(
            max_sessions=max_sessions,
            facts_per_session=facts_per_session,
            update_rate=update_rate,
            retract_rate=retract_rate,
            distractor_rate=distractor_rate,
            num_entities=num_entities,
            num_attributes=num_attributes,
            question_evidence=question_evidence,
        )
        self.privileged = privileged
        if scorer == "rule" and scorer_kwargs is None:
            scorer_kwargs = {"top_k": reader_k, "strict": strict}
        super().__init__(
            data_sessions=max_sessions,
            max_sessions=max_sessions,
            scorer=scorer,
            scorer_kwargs=scorer_kwargs,
            session_credit=session_credit,
            **kwargs,
        )

    def _select_conversation(self, options: dict[str, Any]) -> Conversation:
        seed = options.get("conversation_seed")
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        return synthetic.generate(self.world, seed=int(seed))

    def _setup(self, conversation: Conversation) -> None:
        super()._setup(conversation)
        self._gold_facts = {fact["dia_id"]: fact for fact in conversation.meta.get("facts", ())}

    def _chunk_facts(self) -> list[dict[str, Any]]:
        return [self._gold_facts[t.dia_id] for t in self.current_turns if t.dia_id in self._gold_facts]

    def _gold(self) -> dict[str, Any] | None:
        if not self.privileged:
            return None
        facts = self._chunk_facts()
        if self.role == "extractor":
            return {"facts": [{"speaker": f["speaker"], "fact": f["fact"], "dia_ids": [f["dia_id"]]} for f in facts]}
        return {"operations": synthetic.ideal_operations(facts, self.bank)}

    def _info(self, view: ExtractorView | ManagerView, **extra: Any) -> dict[str, Any]:
        info = super()._info(view, **extra)
        if self.privileged and not self.position.terminated:
            facts = self._chunk_facts()
            if self.role == "manager":  # the UPDATE targets: only the manager can act on them
                keys = [(fact["entity"], fact["attribute"]) for fact in facts]
                facts = [{**fact, "memories": ids} for fact, ids in zip(facts, memories_about(self.bank, keys))]
            info["gold_facts"] = facts
        return info


class SyntheticV1Env(SyntheticEnv):
    """Synthetic-v1: the world of v0 with a reader and defaults under which targeted UPDATE decides the score.

    ## Description
    As :class:`SyntheticEnv`, with what Synthetic-v0 lacked to measure credit assignment (each a constructor
    argument; v1's default in brackets):

    * a retrieval-based reader: the rule scorer answers each question from the ``reader_k`` [5] memories BM25
      retrieves for it (question plus its attribute's cue words), not from the whole bank;
    * strict scoring (``strict`` [True]): a stale value next to the current one scores 0, history questions
      are answered from explicit past claims only ("Previously ..."), and claims are credited per memory, so an
      UPDATE of the wrong memory cannot score (:func:`memenv.scoring.rule.memory_claims`);
    * the manager sees the top ``retrieval_k`` [5] related memories of each fact;
    * every change of a key is evidence of its questions (``question_evidence`` ["chain"]) and
      ``session_rewards`` credits a question to every session holding its evidence (``session_credit``
      ["evidence"]), so each session's global reward depends on what that session did;
    * difficulty knobs: ``update_rate`` [0.5], ``retract_rate`` [0.1], ``distractor_rate`` [0.5],
      ``num_entities`` [8], ``num_attributes`` [7], ``facts_per_session`` [4].

    ## Rewards, Spaces, Starting State, Episode End, Privileged information
    As :class:`SyntheticEnv`.

    ## Baselines
    ``memr2 eval --protocol synthetic-v1-N --agent A`` (N = 8, 16, 32); the scores are in the protocol tables of
    ``leaderboards/README.md``, generated from ``leaderboards/results`` by ``memr2 leaderboard``. (They are not
    copied into this docstring: generated text never goes into source code, where a result file's name could
    become code.)

    >>> import gymnasium as gym, memenv
    >>> env = gym.make("MemoryR2/Synthetic-v1")
    >>> env.unwrapped.scorer.top_k, env.unwrapped.scorer.strict, env.unwrapped.session_credit
    (5, True, 'evidence')

    ## Version History
    * v1: retrieval-based strict reader, evidence-based session credit, harder defaults.
    """

    #: v1's defaults; any :class:`SyntheticEnv` argument may still be passed and overrides them.
    DEFAULTS: dict[str, Any] = {
        "update_rate": 0.5,
        "question_evidence": "chain",
        "reader_k": 5,
        "strict": True,
        "retrieval_k": 5,
        "session_credit": "evidence",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**self.DEFAULTS, **kwargs})
