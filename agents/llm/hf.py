"""The ``transformers`` backend: batched sampling with a KV cache, recording log-probs as it goes, and
differentiable re-scoring of the same tokens.

Prompts are left-padded with position ids counted from each row's first real token, in generation and in
scoring alike, so that recomputed log-probs match the recorded ones (fp32: to ~1e-6).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from agents.llm.backend import Sample, SamplingConfig, sample_next, scaled_logprobs


def stop_token_ids(tokenizer, model=None) -> set[int]:
    """End-of-turn ids: the tokenizer's EOS, ChatML's ``<|im_end|>`` if known, and the model's EOS ids."""
    ids = {tokenizer.eos_token_id}
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, position_ids)`` for left-padded ``rows``; positions start at 0 per row."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
            mask[i, width - len(row) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


class TransformersBackend:
    """A Hugging Face causal LM behind the :class:`~agents.llm.backend.Backend` interface."""

    def __init__(self, model, tokenizer, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.stop_ids = stop_token_ids(tokenizer, model)
        # transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name warns, then goes away)
        self._cache_key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingConfig, seed: int) -> list[Sample]:
        """Sample one completion per prompt as a single batch; the same ``seed`` gives the same tokens."""
        if not prompts:
            return []
        device = self.device
        generator = torch.Generator(device=device).manual_seed(int(seed))
        ids, mask, positions = left_pad(prompts, self.pad_id, device)
        stop = torch.tensor(sorted(self.stop_ids), device=device)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache, logits = out[self._cache_key], out.logits[:, -1, :]
        position = positions[:, -1:]
        done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
        tokens_out, logprobs_out = [], []
        for _ in range(sampling.max_new_tokens):
            tokens, logprobs = sample_next(logits, sampling, generator)
            tokens = tokens.masked_fill(done, self.pad_id)
            tokens_out.append(tokens)
            logprobs_out.append(logprobs)
            done = done | torch.isin(tokens, stop)
            if bool(done.all()):
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            position = position + 1
            step = {"input_ids": tokens[:, None], "attention_mask": mask, "position_ids": position}
            out = self.model(**step, **{self._cache_key: cache}, use_cache=True)
            cache, logits = out[self._cache_key], out.logits[:, -1, :]
        return self._samples(torch.stack(tokens_out, 1).tolist(), torch.stack(logprobs_out, 1).tolist())

    def _samples(self, token_rows: list[list[int]], logprob_rows: list[list[float]]) -> list[Sample]:
        samples = []
        for tokens, logprobs in zip(token_rows, logprob_rows):
            end = next((i + 1 for i, t in enumerate(tokens) if t in self.stop_ids), None)
            n = end if end is not None else len(tokens)
            samples.append(Sample(token_ids=tokens[:n], logprobs=logprobs[:n], finished=end is not None))
        return samples

    def score(
        self,
        prompts: Sequence[Sequence[int]],
        completions: Sequence[Sequence[int]],
        temperature: float = 1.0,
        batch_size: int = 8,
        *,
        model: torch.nn.Module | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per completion token: its log-prob given prompt + earlier tokens, and the entropy of that position's
        distribution, with gradients, in left-padded batches -- the one re-scoring path (old, reference and
        current log-probs alike; TRL has one such function too). ``model`` defaults to the backend's own (a
        trainer passes its DDP wrapper so gradients flow through its hooks).

        Only the last ``max completion length + 1`` positions go through the LM head, so memory is
        O(batch * completion * vocab) rather than O(batch * sequence * vocab).
        """
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        model = model if model is not None else self.model
        logprob_rows: list[torch.Tensor] = []
        entropy_rows: list[torch.Tensor] = []
        for start in range(0, len(prompts), batch_size):
            batch = slice(start, start + batch_size)
            rows = [list(p) + list(c) for p, c in zip(prompts[batch], completions[batch])]
            lengths = [len(c) for c in completions[batch]]
            width = max(lengths)
            if width == 0:
                logprob_rows.extend(torch.zeros(0, device=self.device) for _ in rows)
                entropy_rows.extend(torch.zeros(0, device=self.device) for _ in rows)
                continue
            ids, mask, positions = left_pad(rows, self.pad_id, self.device)
            logits = model(
                input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=width + 1, use_cache=False
            ).logits
            logprobs = scaled_logprobs(logits[:, :-1, :], temperature)  # (B, width, V): predicts ids[:, -width:]
            picked = logprobs.gather(-1, ids[:, -width:, None]).squeeze(-1)  # (B, width)
            entropy = -(logprobs.exp() * logprobs).sum(-1)  # (B, width)
            logprob_rows.extend(picked[i, width - n :] for i, n in enumerate(lengths))
            entropy_rows.extend(entropy[i, width - n :] for i, n in enumerate(lengths))
        return logprob_rows, entropy_rows
