"""``LLMPolicy``: the trainer's view of :class:`agents.llm.LLMAgent` (one backbone, both roles).

Acting is the agent's own batched ``act_batch`` (its :class:`~agents.llm.agent.ActionRecord` s keep prompt ids,
completion ids and sampling log-probs); the trainer's generator reseeds the agent before every batch, so rollouts
are reproducible. :meth:`LLMPolicy.evaluate` re-scores the records through the backend's one scoring path
(:meth:`agents.llm.hf.TransformersBackend.score`) with whatever module it is given -- the plain model or its DDP
wrapper -- so the recomputed log-probs match the recorded ones and gradients flow through DDP's hooks.

Options for CPU training (docs/llm-training.md): ``dtype="bfloat16"`` (base weights in bf16), ``lora_r > 0``
(a frozen base with fp32 LoRA adapters, :mod:`algorithms.lora`), ``init_checkpoint`` (start from a ``memr2 sft``
model directory), and the agent's ``action_format`` / ``prompt_style``. With any of the first three the policy
loads its own copy of the model rather than the process-wide cached one (which other agents may share).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from agents.llm import ActionRecord, LLMAgent, make_llm_agent
from agents.llm.backend import pad_rows
from agents.llm.hf import TransformersBackend
from agents.llm.loading import load_model
from algorithms.lora import add_lora, torch_dtype
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
        action_format: str = "line",
        prompt_style: str = "fewshot",
        dtype: str = "float32",
        lora_r: int = 0,
        lora_alpha: int | None = None,
        init_checkpoint: str | None = None,
    ) -> None:
        if backend != "transformers":
            raise ValueError(f"training needs gradients: backend={backend!r} cannot train; use 'transformers'")
        options = {"temperature": temperature, "max_new_tokens": max_new_tokens, "seed": seed, "record": True,
                   "action_format": action_format, "prompt_style": prompt_style}
        if agent is None and (dtype != "float32" or lora_r > 0 or init_checkpoint):
            source = init_checkpoint or model
            loaded = load_model(source, dtype=torch_dtype(dtype), seed=seed if source == "tiny" else 0)
            agent = LLMAgent(TransformersBackend(*loaded), **options)
        self.agent = agent or make_llm_agent(model, backend, extractor="llm", **options)  # the trainer scripts roles
        self.model: torch.nn.Module = self.agent.backend.model
        self.adapters = add_lora(self.model, lora_r, lora_alpha, seed=seed) if lora_r > 0 else None
        self.temperature = temperature
        self.batch_size = batch_size
        if gradient_checkpointing:  # active in train mode only: evaluate() trains, act() generates in eval mode
            enable = getattr(self.model, "activation_checkpointing_enable", None) or self.model.gradient_checkpointing_enable
            enable()

    def act(self, infos: Sequence[dict[str, Any]], *, generator: torch.Generator, greedy: bool = False) -> list[Decision]:
        self.model.eval()  # KV cache on; gradient checkpointing off
        self.agent.reset(seed=int(torch.randint(2**31 - 1, (1,), generator=generator)))
        sampling = dataclasses.replace(self.agent.sampling, temperature=0.0) if greedy else None
        texts = self.agent.act_batch([None] * len(infos), list(infos), sampling=sampling)
        records = self.agent.pop_records()
        return [
            Decision(action=text, sample=record, old_logp=torch.tensor(record.logprobs, dtype=torch.float32),
                     parse_failed=record.parse_error is not None)
            for text, record in zip(texts, records)
        ]

    def evaluate(self, model: torch.nn.Module, samples: Sequence[ActionRecord]) -> Evaluation:
        """Per-token log-probs and entropies ``[B, T]`` of the records' completions (right-padded), through the
        backend's one scoring path with ``model`` (the plain model or its DDP wrapper)."""
        model.train(torch.is_grad_enabled())  # train mode (checkpointing) only when gradients are wanted
        logprobs, entropies = self.agent.backend.score(
            [r.prompt_ids for r in samples], [r.completion_ids for r in samples],
            temperature=self.temperature, batch_size=self.batch_size, model=model,
        )
        logp, mask = pad_rows(logprobs)
        entropy, _ = pad_rows(entropies)
        return Evaluation(logp=logp, entropy=entropy, mask=mask)
