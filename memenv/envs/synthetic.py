"""``MemoryR2/Synthetic-v0``: the procedural world of :mod:`memenv.data.synthetic` as a :class:`MemoryEnv`."""

from __future__ import annotations

from typing import Any

from memenv.data import synthetic
from memenv.data.schema import Conversation
from memenv.env import MemoryEnv


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

    ## Action Space
    ``Text``, as :class:`~memenv.env.MemoryEnv`: extractor facts / manager operations in JSON or line format.

    ## Observation Space
    ``Dict(role=Discrete(2), session=Discrete(max_sessions + 1), text=Text)``, as :class:`~memenv.env.MemoryEnv`.
    ``info["gold"]`` holds the ideal action at every step: ``{"facts": [...]}`` for the extractor (canonical
    "<Entity>'s <attribute> is <value>." facts of the chunk) and ``{"operations": [...]}`` for the manager (the
    ideal ADD / UPDATE against the *current* bank, so it stays ideal whatever happened before).

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
    ``retract_rate`` (0.1), ``distractor_rate`` (0.5, fraction of chit-chat turns), ``num_entities`` (8), and every
    :class:`~memenv.env.MemoryEnv` argument (``chunks_per_session``, ``reward_mode``, ``compression_coef``,
    ``scorer`` ("rule"), ...). The fork API is ``env.unwrapped.clone()`` / ``get_state()`` / ``set_state()``.

    >>> import gymnasium as gym, memenv
    >>> env = gym.make("MemoryR2/Synthetic-v0", max_sessions=8)
    >>> obs, info = env.reset(seed=0)
    >>> info["role"], info["view"]["num_sessions"], sorted(info["gold"])
    ('extractor', 8, ['facts'])

    ## Version History
    * v0: initial version.
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
        scorer: Any = "rule",
        **kwargs: Any,
    ) -> None:
        self.world = synthetic.SyntheticConfig(
            max_sessions=max_sessions,
            facts_per_session=facts_per_session,
            update_rate=update_rate,
            retract_rate=retract_rate,
            distractor_rate=distractor_rate,
            num_entities=num_entities,
        )
        super().__init__(horizon=max_sessions, max_sessions=max_sessions, scorer=scorer, **kwargs)

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

    def _gold(self) -> dict[str, Any]:
        facts = self._chunk_facts()
        if self.role == "extractor":
            return {"facts": [{"speaker": f["speaker"], "fact": f["fact"], "dia_ids": [f["dia_id"]]} for f in facts]}
        return {"operations": synthetic.ideal_operations(facts, self.bank)}
