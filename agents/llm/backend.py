"""The small interface every generation backend implements, and the log-prob math they share.

A backend does two things on token ids (prompt rendering is the agent's job):

* ``generate(prompts, sampling, seed)``: sample one completion per prompt, as one batch, and return for each the
  generated token ids and their log-probs under the sampling distribution;
* ``score(prompts, completions, temperature)``: recompute those log-probs *with gradients* (batched, padded), so a
  trainer can form probability ratios.

"The sampling distribution" follows TRL's convention: ``log_softmax(logits / temperature)`` over the full
vocabulary (``temperature=0`` means greedy decoding, scored at temperature 1). ``top_p < 1`` truncates what is
*sampled* but is not applied to the log-probs; train with ``top_p=1`` to make the two identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from agents.llm.openai_backend import ChatReply


@dataclass(frozen=True)
class SamplingConfig:
    """Generation settings of one call."""

    temperature: float = 0.7
    """Softmax temperature; 0 decodes greedily."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 disables it)."""
    max_new_tokens: int = 256
    """Hard cap on generated tokens per completion."""

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class Sample:
    """One generated completion."""

    token_ids: list[int]
    """Generated ids, including the end-of-turn token when the model produced one."""
    logprobs: list[float]
    """Log-prob of each generated id under the sampling distribution (see module docstring)."""
    finished: bool
    """True if the model stopped by itself, False if ``max_new_tokens`` cut it."""


@runtime_checkable
class Backend(Protocol):
    """What :class:`agents.llm.LLMAgent` needs from a model."""

    name: str
    tokenizer: Any

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingConfig, seed: int) -> list[Sample]:
        """Sample one completion per prompt (one batch), reproducibly for a given ``seed``."""
        ...

    def score(
        self,
        prompts: Sequence[Sequence[int]],
        completions: Sequence[Sequence[int]],
        temperature: float = 1.0,
        batch_size: int = 8,
        *,
        model: torch.nn.Module | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per completion token: log-prob given its prompt and the position's entropy, differentiable w.r.t. the
        weights of ``model`` (default: the backend's own)."""
        ...


@runtime_checkable
class ChatBackend(Protocol):
    """A model reached through chat messages rather than token ids (an OpenAI-compatible server): it samples but
    cannot score with gradients. :class:`agents.llm.LLMAgent` sends it the messages it would render for a
    :class:`Backend`."""

    name: str

    def generate_chat(
        self, conversations: Sequence[list[dict[str, str]]], sampling: SamplingConfig, seed: int
    ) -> list[ChatReply]:
        """One sampled reply per conversation (text, sampled tokens and their log-probs where the server has them)."""
        ...


def scaled_logprobs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log_softmax(logits / temperature)`` in fp32 (temperature 0, i.e. greedy, is scored at 1).

    >>> scaled_logprobs(torch.tensor([[0.0, 0.0]]), 0.5).exp().tolist()
    [[0.5, 0.5]]
    """
    scale = temperature if temperature > 0 else 1.0
    return torch.log_softmax(logits.float() / scale, dim=-1)


def sample_next(
    logits: torch.Tensor, sampling: SamplingConfig, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick one token per row of ``logits`` (B, V); return ``(token_ids (B,), their log-probs (B,))``."""
    logprobs = scaled_logprobs(logits, sampling.temperature)
    if sampling.temperature == 0:
        tokens = logprobs.argmax(dim=-1)
    else:
        probs = logprobs.exp()
        if sampling.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(dim=-1) - sorted_probs > sampling.top_p  # keep the first token always
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return tokens, logprobs.gather(-1, tokens[:, None]).squeeze(-1)


def pad_rows(rows: Sequence[torch.Tensor], value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D tensors of different lengths into ``[B, T]`` (right-padded with ``value``) and a 0/1 float mask,
    on the rows' device and differentiable through them (``T >= 1``).

    >>> values, mask = pad_rows([torch.tensor([1.0, 2.0]), torch.tensor([3.0])])
    >>> values.tolist(), mask.tolist()
    ([[1.0, 2.0], [3.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
    """
    width = max([1, *(len(r) for r in rows)])
    if not rows:
        return torch.zeros((0, width)), torch.zeros((0, width))
    pad = torch.nn.functional.pad
    values = torch.stack([pad(r.float(), (0, width - len(r)), value=value) for r in rows])
    mask = torch.stack([pad(torch.ones(len(r), device=r.device), (0, width - len(r))) for r in rows])
    return values, mask
