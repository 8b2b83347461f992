"""Wrap a backend as the answerer (and judge) that :class:`memenv.scoring.llm.LLMScorer` calls.

memenv cannot import torch, so the scorer only knows the protocol ``name`` + ``answer(prompts) -> texts``;
this adapter provides it for any backend (greedy decoding, batched).
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.llm.backend import Backend, SamplingConfig
from agents.llm.openai_backend import first_line


class LLMAnswerer:
    """``answer(prompts)``: each prompt becomes one user turn (after an optional system turn); greedy replies,
    cut to their first non-empty line (small models add explanations after the answer).

    Args:
        backend: any :class:`~agents.llm.backend.Backend`.
        max_new_tokens: answers are short phrases; this caps them.
        batch_size: prompts per generate call.
        system: optional system prompt placed before every prompt.
    """

    def __init__(
        self, backend: Backend, max_new_tokens: int = 32, batch_size: int = 8, system: str | None = None
    ) -> None:
        self.backend = backend
        self.sampling = SamplingConfig(temperature=0.0, max_new_tokens=max_new_tokens)
        self.batch_size = batch_size
        self.system = system
        self.name = f"{backend.name}|greedy|{max_new_tokens}"

    def _prompt_ids(self, prompt: str) -> list[int]:
        tokenizer = self.backend.tokenizer
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": prompt})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def answer(self, prompts: Sequence[str]) -> list[str]:
        """The model's reply to each prompt, first line only (greedy, so repeated calls agree)."""
        replies: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self._prompt_ids(p) for p in prompts[start : start + self.batch_size]]
            for sample in self.backend.generate(batch, self.sampling, seed=0):
                text = self.backend.tokenizer.decode(sample.token_ids, skip_special_tokens=True)
                replies.append(first_line(text))
        return replies


def make_answerer(
    model: str = "smollm2", backend: str = "transformers", max_new_tokens: int = 32, batch_size: int = 8
) -> LLMAnswerer:
    """An answerer by model name, for ``scorer_kwargs={"answerer": "agents.llm.answerer:make_answerer"}``."""
    from agents.llm.factory import load_backend

    return LLMAnswerer(load_backend(model, backend), max_new_tokens=max_new_tokens, batch_size=batch_size)
