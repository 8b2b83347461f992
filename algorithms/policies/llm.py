"""``LLMPolicy``: the trainer's view of :class:`agents.llm.LLMAgent` (one backbone, both roles).

Acting is the agent's own batched ``act_batch`` (its :class:`~agents.llm.agent.ActionRecord` s keep prompt ids,
completion ids and sampling log-probs); the trainer's generator reseeds the agent before every batch, so rollouts
are reproducible. :meth:`LLMPolicy.evaluate` re-scores the records through whatever module it is given -- the
plain model or its DDP wrapper -- with the backend's left-padding convention, so the recomputed log-probs match
the recorded ones and gradients flow through DDP's hooks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from agents.llm import ActionRecord, make_llm_agent
from agents.llm.backend import scaled_logprobs
from agents.llm.hf import left_pad
from algorithms.policies.base import Decision, Evaluation


class LLMPolicy:
    """An :class:`~agents.llm.LLMAgent` (``transformers`` backend) as a trainable policy.

    ``batch_size`` rows are scored per forward pass; ``gradient_checkpointing`` trades compute for memory (a
    LoCoMo prompt is ~2k tokens: without it one backward over 8 rows of SmolLM2 needs tens of GB).
    """

    def __init__(
        self,
        *,
        model: str,
        backend: str = "transformers",
        temperature: float = 1.0,
        max_new_tokens: int = 96,
        seed: int = 0,
        batch_size: int = 8,
        gradient_checkpointing: bool = True,
        agent: Any = None,
    ) -> None:
        if backend != "transformers":
            raise ValueError(f"training needs gradients: backend={backend!r} cannot train; use 'transformers'")
        self.agent = agent or make_llm_agent(model, backend, temperature=temperature, max_new_tokens=max_new_tokens,
                                             seed=seed, record=True)
        self.model: torch.nn.Module = self.agent.backend.model
        self.temperature = temperature
        self.batch_size = batch_size
        self.pad_id = self.agent.backend.pad_id
        if gradient_checkpointing:  # active in train mode only: evaluate() trains, act() generates in eval mode
            enable = getattr(self.model, "activation_checkpointing_enable", None) or self.model.gradient_checkpointing_enable
            enable()

    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        self.model.eval()  # KV cache on; gradient checkpointing off
        self.agent.reset(seed=int(torch.randint(2**31 - 1, (1,), generator=generator)))
        sampling = self.agent.sampling
        if greedy:
            self.agent.sampling = dataclasses.replace(sampling, temperature=0.0)
        try:
            texts = self.agent.act_batch([None] * len(infos), list(infos))
        finally:
            self.agent.sampling = sampling
        records = self.agent.pop_records()
        return [
            Decision(action=text, sample=record, old_logp=torch.tensor(record.logprobs, dtype=torch.float32),
                     parse_failed=record.parse_error is not None)
            for text, record in zip(texts, records)
        ]

    def evaluate(self, model: torch.nn.Module, samples: Sequence[ActionRecord]) -> Evaluation:
        """Per-token log-probs and entropies ``[B, T]`` of the records' completions (right-padded)."""
        device = next(self.model.parameters()).device
        model.train(torch.is_grad_enabled())  # train mode (checkpointing) only when gradients are wanted
        width = max([1, *(len(r.completion_ids) for r in samples)])
        logp_rows, ent_rows = [], []
        for start in range(0, len(samples), self.batch_size):
            chunk = samples[start : start + self.batch_size]
            lengths = [len(r.completion_ids) for r in chunk]
            w = max([1, *lengths])
            ids, mask, positions = left_pad([r.prompt_ids + r.completion_ids for r in chunk], self.pad_id, device)
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=w + 1, use_cache=False)
            logits = out.logits
            logprobs = scaled_logprobs(logits[:, :-1, :], self.temperature)  # [b, w, V] predicts ids[:, -w:]
            picked = logprobs.gather(-1, ids[:, -w:, None]).squeeze(-1)  # [b, w]
            entropy = -(logprobs.exp() * logprobs).sum(-1)  # [b, w]
            for i, n in enumerate(lengths):  # completion i sits right-aligned: move it to the left, pad right
                logp_rows.append(torch.nn.functional.pad(picked[i, w - n :], (0, width - n)))
                ent_rows.append(torch.nn.functional.pad(entropy[i, w - n :], (0, width - n)))
        mask = torch.zeros(len(samples), width, device=device)
        for i, r in enumerate(samples):
            mask[i, : len(r.completion_ids)] = 1.0
        return Evaluation(logp=torch.stack(logp_rows), entropy=torch.stack(ent_rows), mask=mask)
