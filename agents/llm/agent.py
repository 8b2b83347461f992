"""``LLMAgent``: one causal-LM backbone that plays both roles (fact extractor, memory manager) through role
prompts, and records what it generated so a trainer can score it again with gradients.

For every action it keeps an :class:`ActionRecord` -- prompt token ids, generated token ids and their log-probs
under the sampling distribution (``log_softmax(logits / temperature)``, TRL's convention). :meth:`LLMAgent.logprobs`
recomputes those log-probs with gradients, batched with padding, so ``ratio = exp(new - old)`` is well defined;
with fp32 and unchanged weights the two agree to ~1e-5.

A :class:`~agents.llm.backend.ChatBackend` (a model behind an OpenAI-compatible server) gets the same chat
messages and its replies are parsed the same way; its records hold the sampled tokens as text and the log-probs
the server returned (empty when it returns none), with no token ids, and :meth:`LLMAgent.logprobs` is unavailable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.llm.backend import Backend, ChatBackend, SamplingConfig, pad_rows
from agents.llm.prompts import (
    ACTION_FORMATS, FORMATS, PROMPT_STYLES, ActionFormat, OutputFormat, PromptStyle, build_messages,
)
from memenv.actions import ManageAction, ParseError, parse_action
from memenv.compact import parse_compact
from memenv.views import ExtractorView, ManagerView, view_of


@dataclass
class ActionRecord:
    """One generated action, with everything a policy-gradient trainer needs."""

    role: str
    session: int
    chunk: int
    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]
    """Log-prob of each completion id under the sampling distribution at generation time."""
    text: str
    temperature: float
    finished: bool
    """False when ``max_new_tokens`` cut the completion."""
    parse_error: str | None = None
    tokens: list[str] = field(default_factory=list)
    """The sampled tokens as text, for chat backends (which return no ids; ``prompt_ids`` and
    ``completion_ids`` are then empty)."""


@dataclass
class RoleStats:
    """Counters for one role: actions, parse failures, tokens generated and time spent generating."""

    actions: int = 0
    parse_failures: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def parse_failure_rate(self) -> float:
        return self.parse_failures / self.actions if self.actions else 0.0


class LLMAgent:
    """A memory agent backed by one LLM for both roles.

    Args:
        backend: a :class:`~agents.llm.backend.Backend` (``transformers``, ``tiny`` or ``vllm``) or a
            :class:`~agents.llm.backend.ChatBackend` (``openai``).
        fmt: output format asked for, ``"lines"`` (default; small models follow it) or ``"json"``.
        temperature, top_p, max_new_tokens: generation settings (``temperature=0`` is greedy).
        seed: seeds the agent's own generator, from which every generate call draws its seed.
        few_shot: include each role's few-shot exchange as prior chat turns (``prompt_style="fewshot"`` only).
        action_format: the manager's answer, ``"line"`` (default: ``fmt``) or ``"compact"`` (one code per fact,
            :mod:`memenv.compact`; the agent reads the codes with the view and hands the env the
            :class:`~memenv.actions.ManageAction`, or the :class:`~memenv.actions.ParseError` it penalises).
        prompt_style: ``"fewshot"`` (default) or ``"terse"`` (short system prompts, no examples, shorter views).
        record: keep an :class:`ActionRecord` per action in ``self.records``.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        fmt: OutputFormat = "lines",
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int = 0,
        few_shot: bool = True,
        record: bool = True,
        action_format: ActionFormat = "line",
        prompt_style: PromptStyle = "fewshot",
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        if action_format not in ACTION_FORMATS or prompt_style not in PROMPT_STYLES:
            raise ValueError(
                f"action_format={action_format!r}, prompt_style={prompt_style!r}: choose from {ACTION_FORMATS} "
                f"and {PROMPT_STYLES}"
            )
        self.action_format, self.prompt_style = action_format, prompt_style
        self.backend = backend
        self.fmt = fmt
        self.sampling = SamplingConfig(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        self.few_shot = few_shot
        self.record = record
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.records: list[ActionRecord] = []
        self.stats: dict[str, RoleStats] = {"extractor": RoleStats(), "manager": RoleStats()}

    @property
    def name(self) -> str:
        return f"llm:{self.backend.name}"

    def reset(self, seed: int | None = None) -> None:
        """Start an episode: clear ``records`` (take them first with :meth:`pop_records`); reseed if given."""
        self.records = []
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def pop_records(self) -> list[ActionRecord]:
        """The records gathered so far, removing them from the agent."""
        records, self.records = self.records, []
        return records

    def messages(self, view: ExtractorView | ManagerView) -> list[dict[str, str]]:
        """The chat messages for ``view`` (system, few-shot turns, the view)."""
        return build_messages(view, self.fmt, self.few_shot, action_format=self.action_format, style=self.prompt_style)

    def read(self, view: ExtractorView | ManagerView, text: str) -> ManageAction | ParseError | str:
        """What the env gets for ``text`` written for ``view``: the text itself (the env parses it), or, for the
        manager in the compact format, the action the codes stand for (or why they do not)."""
        if view.role == "manager" and self.action_format == "compact":
            return parse_compact(view, text)
        return text

    def prompt_ids(self, view: ExtractorView | ManagerView) -> list[int]:
        """Token ids of the chat prompt for ``view`` (system, few-shot turns, the view, assistant header)."""
        tokenizer = self.backend.tokenizer
        text = tokenizer.apply_chat_template(self.messages(view), tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def act(self, observation: Any, info: dict[str, Any] | None = None) -> Any:
        """The raw text the model wrote for this step (the env parses it and penalises what it cannot read); in
        the compact format, the manager's action or parse error (:meth:`read`)."""
        return self.act_batch([observation], [info])[0]

    def act_batch(
        self, observations: Sequence[Any], infos: Sequence[dict[str, Any] | None], *, sampling: SamplingConfig | None = None
    ) -> list[Any]:
        """One generate call for many steps -- e.g. the n rollouts of a GRPO group, whatever their roles.
        ``sampling`` overrides the agent's own settings for this call (e.g. greedy validation). Returns what
        :meth:`read` makes of each text."""
        sampling = sampling or self.sampling
        views = [view_of(o, i) for o, i in zip(observations, infos)]
        seed = int(self._rng.integers(2**31 - 1))
        start = time.perf_counter()
        if isinstance(self.backend, ChatBackend):
            replies = self.backend.generate_chat([self.messages(v) for v in views], sampling, seed)
            generated = [
                ActionRecord(
                    role=v.role, session=v.session, chunk=v.chunk, prompt_ids=[], completion_ids=[], logprobs=list(r.logprobs),
                    text=r.text.strip(), temperature=sampling.temperature, finished=r.finished,
                    tokens=list(r.tokens),
                )
                for v, r in zip(views, replies)
            ]
            lengths = [r.completion_tokens or len(r.tokens) for r in replies]
        else:
            prompts = [self.prompt_ids(v) for v in views]
            samples = self.backend.generate(prompts, sampling, seed)
            generated = [
                ActionRecord(
                    role=v.role, session=v.session, chunk=v.chunk, prompt_ids=p, completion_ids=list(s.token_ids),
                    logprobs=list(s.logprobs), temperature=sampling.temperature, finished=s.finished,
                    text=self.backend.tokenizer.decode(s.token_ids, skip_special_tokens=True).strip(),
                )
                for v, p, s in zip(views, prompts, samples)
            ]
            lengths = [len(s.token_ids) for s in samples]
        elapsed = time.perf_counter() - start
        total_tokens = max(sum(lengths), 1)
        actions = []
        for view, record, length in zip(views, generated, lengths):
            action = self.read(view, record.text)
            actions.append(action)
            parsed = parse_action(view.role, record.text) if isinstance(action, str) else action
            record.parse_error = parsed.message if isinstance(parsed, ParseError) else None
            stats = self.stats[view.role]
            stats.actions += 1
            stats.parse_failures += record.parse_error is not None
            stats.tokens += length
            stats.seconds += elapsed * length / total_tokens
            if self.record:
                self.records.append(record)
        return actions

    def logprobs(self, records: Sequence[ActionRecord], batch_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """Recompute the records' completion log-probs *with gradients*: ``(logprobs (B, T), mask (B, T))``,
        right-padded like :meth:`recorded_logprobs`, at each record's own temperature."""
        if isinstance(self.backend, ChatBackend):
            raise ValueError(
                f"{self.backend.name} is served over HTTP: its log-probs cannot be recomputed with gradients; "
                "train with --backend transformers (or vllm) and use the server for evaluation"
            )
        rows: list[torch.Tensor] = [torch.zeros(0)] * len(records)
        for temperature in sorted({r.temperature for r in records}):
            index = [i for i, r in enumerate(records) if r.temperature == temperature]
            scored, _ = self.backend.score(
                [records[i].prompt_ids for i in index],
                [records[i].completion_ids for i in index],
                temperature=temperature,
                batch_size=batch_size,
            )
            for i, row in zip(index, scored):
                rows[i] = row
        values, mask = pad_rows(rows)
        return values, mask.bool()

    @staticmethod
    def recorded_logprobs(records: Sequence[ActionRecord]) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-probs recorded at generation time, ``(logprobs (B, T), mask (B, T))``, right-padded."""
        values, mask = pad_rows([torch.tensor(r.logprobs, dtype=torch.float32) for r in records])
        return values, mask.bool()
