"""``MemoryEnv``: the multi-session memory environment (a thin Gymnasium adapter over bank, actions and scorers).

Datasets subclass it (``memenv.envs.synthetic.SyntheticEnv``, ``memenv.envs.locomo.LoCoMoEnv``) and supply only
how a conversation is chosen at reset (and, optionally, gold actions for an oracle).
"""

from __future__ import annotations

import copy
import math
import string
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memenv.actions import MAX_ACTION_CHARS, ROLES, AddOp, DeleteOp, ExtractAction, Fact, ManageAction, NoopOp, ParseError, UpdateOp, coerce_action, truncation_note  # noqa: E501
from memenv.attribution import best_match, match_candidates
from memenv.bank import MemoryBank, UnknownMemoryError
from memenv.data.schema import QA, Conversation, Turn
from memenv.retrieval import bm25_search_many
from memenv.scoring.base import QARecord, QAScorer, make_scorer, summarize
from memenv.state import EnvState, Position, check_state
from memenv.text import count_tokens
from memenv.views import ExtractorView, ManagerView, header, manager_view, view_text

RewardMode = Literal["terminal", "session"]
SessionCredit = Literal["latest", "evidence"]
MAX_OBS_CHARS = 1 << 22


def penalized_reward(score: float, compression_penalty: float) -> float:
    """The reward of a QA score taken on a bank: the score minus that bank's compression penalty. The one place the
    penalty is subtracted: the env's session and terminal rewards and the trainer's rows (via
    :class:`algorithms.rollouts.Trajectory`) all call it."""
    return score - compression_penalty


def split_chunks(turns: tuple[Turn, ...], num_chunks: int) -> list[tuple[Turn, ...]]:
    """``turns`` cut into ``num_chunks`` contiguous, near-equal parts (some may be empty for short sessions)."""
    bounds = np.linspace(0, len(turns), num_chunks + 1).round().astype(int)
    return [turns[bounds[i] : bounds[i + 1]] for i in range(num_chunks)]


class MemoryEnv(gym.Env):
    """A conversation is read session by session; the agent keeps a memory bank and is scored on questions.

    ## Description
    Each session is split into ``chunks_per_session`` chunks of turns. For every chunk two steps happen: the
    **extractor** sees the chunk and lists facts; the **manager** sees those facts, each with the ids of related
    memories (BM25 top-``retrieval_k``) and those memories, and emits ADD / UPDATE / DELETE / NOOP operations.
    After the last chunk of the last session the questions are scored on the final bank.

    ## Action Space
    ``Text``: the raw LLM output, parsed by :func:`memenv.actions.parse_action` (JSON or line format). ``step``
    also accepts an ``ExtractAction`` / ``ManageAction``, a plain dict, or a ``ParseError`` (an agent that parses
    its own output -- the compact codes of :mod:`memenv.compact` -- hands over its error, penalised as any).

    ## Observation Space
    ``Dict(role=Discrete(2), session=Discrete(S + 1), text=Text(ASCII printable))``: role 0 is the extractor,
    1 the manager; ``text`` is the canonical JSON of the typed view (:mod:`memenv.views`), whose model is
    ``info["view"]``. The whole contract (view schema per role, every info key) is in ``docs/environment.md``.

    ## Rewards
    ``reward_mode="terminal"``: 0 until the end, then the QA score of the final bank. ``"session"``: at the end of
    every session, the score on the questions whose evidence is complete so far. Both subtract
    ``compression_coef * max(0, tokens(bank) - 0.7 * tokens(dialogue so far)) / tokens(dialogue so far)``.
    A step whose action is unparseable or partly invalid (unknown memory id, wrong role, empty content) adds
    ``invalid_action_penalty``; the invalid part leaves the bank unchanged and ``info["error"]`` says why.

    ## Starting State
    An empty bank at the first chunk of session 1 of a conversation chosen by the subclass from ``np_random``.

    ## Episode End
    Termination: after the manager step of the last chunk of the last session. There is no truncation.

    ## Forking
    ``clone()`` returns an independent env at the identical state in O(1) of the bank size; ``get_state()`` /
    ``set_state()`` save and restore it as JSON. Gymnasium wrappers do not forward attributes, and
    ``env.unwrapped.clone()`` forks the bare env without them: ``memenv.fork(env)`` forks an env from
    ``gymnasium.make`` (or the PettingZoo AEC env) with its whole wrapper stack.

    ## Arguments
    ``max_sessions`` (None = all), ``chunks_per_session`` (1), ``reward_mode`` ("terminal"), ``compression_coef``
    (0.3, as Memory-R2), ``invalid_action_penalty`` (-0.1), ``scorer`` ("recall" | "rule" | "llm" | a QAScorer),
    ``scorer_kwargs``, ``retrieval_k`` (5), ``session_credit`` ("latest" | "evidence": which sessions a question's
    final score is credited to in ``info["session_rewards"]``: the one holding its latest evidence turn, or every
    session holding any of its evidence turns), ``render_mode`` (None | "ansi" | "human"), ``max_questions`` (None =
    all: else the first N questions of each conversation, in data order, among those its sessions can answer --
    to keep an LLM answerer's and judge's cost bounded).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}
    reset_options: tuple[str, ...] = ()
    """The keys ``reset(options=...)`` accepts (each subclass names its own); any other key is a ``ValueError``."""

    def __init__(
        self,
        *,
        data_sessions: int,
        max_sessions: int | None = None,
        chunks_per_session: int = 1,
        reward_mode: RewardMode = "terminal",
        compression_coef: float = 0.3,
        invalid_action_penalty: float = -0.1,
        scorer: str | QAScorer = "recall",
        scorer_kwargs: dict[str, Any] | None = None,
        retrieval_k: int = 5,
        session_credit: SessionCredit = "latest",
        render_mode: str | None = None,
        max_questions: int | None = None,
    ) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1 or None, got {max_sessions}")
        if max_questions is not None and max_questions < 1:
            raise ValueError(f"max_questions must be >= 1 or None, got {max_questions}")
        if chunks_per_session < 1:
            raise ValueError(f"chunks_per_session must be >= 1, got {chunks_per_session}")
        if reward_mode not in ("terminal", "session"):
            raise ValueError(f"reward_mode must be 'terminal' or 'session', got {reward_mode!r}")
        if not (math.isfinite(compression_coef) and compression_coef >= 0):
            raise ValueError(f"compression_coef must be finite and >= 0, got {compression_coef}")
        if not math.isfinite(invalid_action_penalty):
            raise ValueError(f"invalid_action_penalty must be finite, got {invalid_action_penalty}")
        if retrieval_k < 1:
            raise ValueError(f"retrieval_k must be >= 1, got {retrieval_k}")
        if session_credit not in ("latest", "evidence"):
            raise ValueError(f"session_credit must be 'latest' or 'evidence', got {session_credit!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        self.max_sessions = max_sessions
        self.max_questions = max_questions
        self.chunks_per_session = chunks_per_session
        self.reward_mode = reward_mode
        self.compression_coef = compression_coef
        self.invalid_action_penalty = invalid_action_penalty
        self.scorer = make_scorer(scorer, **(scorer_kwargs or {}))
        self.retrieval_k = retrieval_k
        self.session_credit = session_credit
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "role": spaces.Discrete(2),
                "session": spaces.Discrete((min(data_sessions, max_sessions) if max_sessions else data_sessions) + 1),
                "text": spaces.Text(MAX_OBS_CHARS, min_length=1, charset=string.printable),
            }
        )
        self.action_space = spaces.Text(MAX_ACTION_CHARS, min_length=0, charset=string.printable)
        self.conversation: Conversation | None = None
        self.bank = MemoryBank()

    # -- subclass hooks ---------------------------------------------------------------------------------------
    def _select_conversation(self, options: dict[str, Any]) -> Conversation:
        """The conversation for a new episode, chosen with ``self.np_random``; its ``questions`` are scored."""
        raise NotImplementedError

    def _gold(self) -> dict[str, Any] | None:
        """The ideal action at the current step, as a JSON action dict, where the dataset knows it."""
        return None

    # -- position ---------------------------------------------------------------------------------------------
    @property
    def num_sessions(self) -> int:
        return len(self.conversation.sessions) if self.conversation else 0

    @property
    def position(self) -> Position:
        """Where the episode is (session and chunk 0-based, role, terminated)."""
        return self._position

    @property
    def role(self) -> str:
        return self._position.role

    @property
    def current_turns(self) -> tuple[Turn, ...]:
        pos = self._position
        return self._chunks[pos.session][pos.chunk] if not pos.terminated else ()

    @property
    def pending_facts(self) -> tuple[Fact, ...]:
        """Facts from the last extractor step, waiting for the manager."""
        return tuple(self._facts)

    def _setup(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self._chunks = [split_chunks(s.turns, self.chunks_per_session) for s in conversation.sessions]
        self._chunk_tokens = [[sum(count_tokens(t.text) for t in c) for c in s] for s in self._chunks]
        self._dia_session = {t.dia_id: i for i, s in enumerate(conversation.sessions) for t in s.turns}

    def _dialogue_tokens(self) -> int:
        """Tokens of the dialogue shown so far: chunks before the current one, plus it once the extractor saw it."""
        pos = self._position
        if pos.terminated:
            return sum(map(sum, self._chunk_tokens))
        seen = pos.chunk + (pos.role == "manager")
        return sum(map(sum, self._chunk_tokens[: pos.session])) + sum(self._chunk_tokens[pos.session][:seen])

    def compression_penalty(self) -> float:
        """``compression_coef * max(0, tokens(bank) - 0.7 tokens(dialogue so far)) / tokens(dialogue so far)``."""
        dialogue = max(self._dialogue_tokens(), 1)
        return self.compression_coef * max(0.0, self.bank.tokens - 0.7 * dialogue) / dialogue

    # -- views ------------------------------------------------------------------------------------------------
    def _view(self) -> ExtractorView | ManagerView:
        pos = self._position
        head = header(self.conversation, pos.session, pos.chunk, self.chunks_per_session)
        if pos.role == "extractor":
            return ExtractorView(**head, turns=self.current_turns, done=pos.terminated)
        return manager_view(head, self._facts, self._related, self.bank)

    def _observation(self, view: ExtractorView | ManagerView) -> dict[str, Any]:
        top = self.observation_space["session"].n - 1
        return {"role": ROLES.index(view.role), "session": min(view.session, top), "text": view_text(view)}

    def _info(self, view: ExtractorView | ManagerView, **extra: Any) -> dict[str, Any]:
        info = {"role": view.role, "session": view.session, "chunk": self._position.chunk, "session_end": False}
        info.update(extra)
        info["view"] = view
        gold = None if self._position.terminated else self._gold()
        if gold is not None:
            info["gold"] = gold
        return info

    # -- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        unknown = sorted(set(options or {}) - set(self.reset_options))
        if unknown:
            accepted = list(self.reset_options)
            raise ValueError(f"unknown reset option(s) {unknown}; {type(self).__name__} accepts {accepted}")
        super().reset(seed=seed)
        conversation = self._select_conversation(dict(options or {})).truncated(self.max_sessions)
        if self.max_questions is not None:
            conversation = conversation.model_copy(update={"questions": conversation.questions[: self.max_questions]})
        if not conversation.sessions:
            raise ValueError(f"conversation {conversation.conversation_id!r} has no sessions")
        self._setup(conversation)
        self.bank = MemoryBank()
        self._position = Position()
        self._facts, self._related = [], []
        self._steps, self._invalid_actions = 0, 0
        view = self._view()
        return self._observation(view), self._info(view)

    def step(self, action: Any):
        if self.conversation is None:
            raise RuntimeError("call reset() before step()")
        before = self._position
        if before.terminated:
            raise RuntimeError("the episode has terminated; call reset() to start a new one")
        parsed = coerce_action(before.role, action)
        errors = [note] if (note := truncation_note(action)) else []
        if isinstance(parsed, ParseError):
            errors.append(parsed.message)
            parsed = ExtractAction() if before.role == "extractor" else ManageAction()
        if isinstance(parsed, ExtractAction):
            self._extract(parsed)
        else:
            errors += self._manage(parsed)
        self._steps += 1
        self._position = before.next(self.chunks_per_session, self.num_sessions)
        reward = self.invalid_action_penalty if errors else 0.0
        self._invalid_actions += bool(errors)
        extra: dict[str, Any] = {"invalid_ops": len(errors)}
        if errors:
            extra["error"] = "; ".join(errors)
        if self._position.session != before.session or self._position.terminated:
            session_reward, session_info = self._session_end()
            reward += session_reward
            extra.update(session_info, session_end=True)
        view = self._view()
        info = self._info(view, **extra)
        if self.render_mode == "human":
            print(self.render_text(view))
        return self._observation(view), float(reward), self._position.terminated, False, info

    def _extract(self, action: ExtractAction) -> None:
        turns = self.current_turns
        chunk_ids = {t.dia_id for t in turns}
        candidates = match_candidates([(f"{t.speaker} {t.text}", t) for t in turns])
        facts = []
        for fact in action.facts:
            dia_ids = tuple(d for d in fact.dia_ids if d in chunk_ids)
            speaker = fact.speaker
            if not dia_ids and (turn := best_match(fact.fact, candidates)) is not None:
                dia_ids, speaker = (turn.dia_id,), speaker or turn.speaker
            facts.append(fact.model_copy(update={"dia_ids": dia_ids, "speaker": speaker}))
        self._facts = facts
        hits = bm25_search_many(self.bank, [f.fact for f in facts], self.retrieval_k)
        self._related = [[memory_id for memory_id, _ in found] for found in hits]

    def _manage(self, action: ManageAction) -> list[str]:
        session = self.conversation.sessions[self._position.session]
        where = {"session": session.index, "date": session.date_time, "step": self._steps}
        facts = match_candidates([(f.fact, f) for f in self._facts])
        errors = []
        transaction = self.bank.transaction()  # one new bank version per step, not one per operation
        for i, op in enumerate(action.operations):
            source = best_match(op.content, facts) if isinstance(op, (AddOp, UpdateOp)) else None
            dia_ids = op.dia_ids if isinstance(op, (AddOp, UpdateOp)) and op.dia_ids else (source.dia_ids if source else ())
            try:
                if isinstance(op, AddOp):
                    speaker = op.speaker or (source.speaker if source else None)
                    transaction.add(op.content, speaker=speaker, dia_ids=dia_ids, **where)
                elif isinstance(op, UpdateOp):
                    transaction.update(op.memory_id, op.content, dia_ids=dia_ids, **where)
                elif isinstance(op, DeleteOp):
                    transaction.delete(op.memory_id)
                elif isinstance(op, NoopOp) and op.memory_id is not None:
                    transaction.get(op.memory_id)
            except UnknownMemoryError as exc:
                errors.append(f"operations[{i}] {op.op}: {exc}")
        self.bank = transaction.commit()
        self._facts, self._related = [], []
        return errors

    def _session_end(self) -> tuple[float, dict[str, Any]]:
        """The reward and info earned as a session ends (the position has already moved past it): the session
        reward under ``reward_mode="session"``, and at the episode's end the final score, its records, the
        per-session rewards and the compression penalty."""
        if not self._position.terminated:
            return (self.session_reward() if self.reward_mode == "session" else 0.0), {}
        records = self.scorer.score(self.conversation.questions, self.bank)
        final = summarize(records)
        penalty = self.compression_penalty()
        info = {"qa": [r.model_dump() for r in records], "metrics": final,
                "session_rewards": self._session_rewards(records), "compression_penalty": penalty}
        return penalized_reward(final["score"], penalty), info

    def _session_rewards(self, records: list[QARecord]) -> list[float]:
        """Final-bank score of the questions credited to each session (Memory-R2's "persession" attribution):
        per ``session_credit``, the session holding a question's latest evidence, or every session holding any
        of its evidence turns. A session credited with no question gets 0."""
        totals = [[0.0, 0] for _ in range(self.num_sessions)]
        for question, record in zip(self.conversation.questions, records):
            sessions = {record.session - 1}
            if self.session_credit == "evidence":
                sessions |= {self._dia_session[d] for d in question.evidence if d in self._dia_session}
            for index in sessions:
                totals[index][0] += record.score
                totals[index][1] += 1
        return [total / count if count else 0.0 for total, count in totals]

    def session_reward(self) -> float:
        """The local reward: the score on the questions answerable so far minus the compression penalty (what
        ``reward_mode="session"`` pays at a session end)."""
        return penalized_reward(self.score("seen")["score"], self.compression_penalty())

    def score(self, questions: Literal["seen", "all"] = "seen") -> dict[str, Any]:
        """Score the current bank without stepping: ``summarize`` output plus ``qa`` (the records).

        ``"seen"``: questions whose evidence lies in sessions completed so far; ``"all"``: every question.
        """
        if questions not in ("seen", "all"):
            raise ValueError(f"questions must be 'seen' or 'all', got {questions!r}")
        completed = self.num_sessions if self._position.terminated else self._position.session
        pool: list[QA] = [q for q in self.conversation.questions if questions == "all" or q.session <= completed]
        records = self.scorer.score(pool, self.bank)
        return {**summarize(records), "qa": [r.model_dump() for r in records]}

    # -- forking ----------------------------------------------------------------------------------------------
    def clone(self) -> "MemoryEnv":
        """An independent env at the identical state; O(1) in bank size (the bank is persistent).

        The spaces are shared with the original: they define the env and nothing in ``step`` changes them (only
        ``space.sample()`` draws from their own generator).
        """
        new = copy.copy(self)
        new._facts, new._related = list(self._facts), [list(r) for r in self._related]
        if self._np_random is not None:
            new._np_random = np.random.Generator(type(self._np_random.bit_generator)())
            new._np_random.bit_generator.state = self._np_random.bit_generator.state
        return new

    def get_state(self) -> EnvState:
        if self.conversation is None:
            raise RuntimeError("call reset() before get_state()")
        return EnvState(
            conversation=self.conversation,
            bank=self.bank.to_state(),
            **self._position.fields(),
            facts=list(self._facts),
            related=[list(r) for r in self._related],
            steps=self._steps,
            invalid_actions=self._invalid_actions,
            rng_state=self.np_random.bit_generator.state,
            dataset=self._dataset_state(),
        )

    def _dataset_state(self) -> dict[str, Any]:
        """Subclass hook: JSON-serialisable dataset position saved by ``get_state`` (none by default)."""
        return {}

    def _check_dataset_state(self, dataset: dict[str, Any]) -> None:
        """Subclass hook: raise ValueError if ``dataset`` cannot be restored (called before anything changes)."""

    def _restore_dataset_state(self, dataset: dict[str, Any]) -> None:
        """Subclass hook: restore what ``_dataset_state`` saved (already checked)."""

    def _checked_state(self, state: EnvState) -> MemoryBank:
        """The bank ``state`` restores, or ValueError naming the first inconsistency."""
        check_state(state, self.chunks_per_session, self.observation_space["session"].n - 1)
        self._check_dataset_state(state.dataset)
        try:  # on a throwaway generator, so that a bad state changes nothing
            np.random.Generator(type(self.np_random.bit_generator)()).bit_generator.state = state.rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"invalid rng_state: {exc}") from None
        try:
            bank = MemoryBank.from_state(state.bank)
        except ValueError as exc:
            raise ValueError(f"invalid bank: {exc}") from None
        return bank

    def set_state(self, state: EnvState | dict[str, Any] | str) -> None:
        """Restore a state from ``get_state()`` (the model, its dict, or its JSON).

        The whole state is checked first (ids ``m<N>`` unique and below ``next_id``, session and chunk in range,
        pending facts only for the manager, related ids in the bank, the RNG state, the dataset position); a bad
        one raises ValueError (pydantic's for a malformed one) and leaves the env as it was.
        """
        if isinstance(state, str):
            state = EnvState.model_validate_json(state)
        elif isinstance(state, dict):
            state = EnvState.model_validate(state)
        bank = self._checked_state(state)
        self._setup(state.conversation)
        self.bank = bank
        self._position = Position.of(state)
        self._facts, self._related = list(state.facts), [list(r) for r in state.related]
        self._steps, self._invalid_actions = state.steps, state.invalid_actions
        self.np_random.bit_generator.state = state.rng_state
        self._restore_dataset_state(state.dataset)

    @property
    def invalid_actions(self) -> int:
        return self._invalid_actions

    # -- rendering --------------------------------------------------------------------------------------------
    def render_text(self, view: ExtractorView | ManagerView) -> str:
        lines = [f"[session {view.session}/{view.num_sessions} chunk {view.chunk}] {view.role}"]
        if isinstance(view, ExtractorView):
            lines += [f"  {turn.dia_id} {turn.speaker}: {turn.text}" for turn in view.turns]
        else:
            lines += [f"  fact {f.index}: {f.fact} (related: {', '.join(f.related) or '-'})" for f in view.facts]
        lines.append(f"  bank: {len(self.bank)} entries, {self.bank.tokens} tokens")
        return "\n".join(lines)

    def render(self) -> str | None:
        if self.render_mode is None or self.conversation is None:
            return None
        text = self.render_text(self._view())
        if self.render_mode == "ansi":
            return text
        print(text)
        return None
