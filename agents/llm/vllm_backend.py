"""The ``vllm`` backend (extra ``[vllm]``): fast batched generation on a GPU, same interface as ``transformers``.

Generation runs in vLLM with per-request seeds and ``logprobs=0`` (the sampled token's log-prob). vLLM is asked
for *processed* log-probs (after temperature), matching the transformers backend's convention. Scoring with
gradients cannot run inside vLLM, so :meth:`VLLMBackend.score` uses a transformers copy of the same weights on
the same GPU (created on first use), as TRL does. A trainer that updates that copy must push the weights back
into vLLM before the next rollout (``llm.llm_engine`` weight loading); that sync is the trainer's job.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import AutoTokenizer

from agents.llm.backend import Sample, SamplingConfig
from agents.llm.loading import ensure_smollm2_cached


class VLLMUnavailableError(ValueError):
    """vLLM is not installed, or there is no GPU for it (a ValueError: ``memr2`` reports it as a bad choice of
    ``--backend``, without a traceback)."""


def _check_available():
    try:
        import vllm
    except ImportError as exc:
        raise VLLMUnavailableError(
            "the vllm backend needs the [vllm] extra: pip install 'memory-r2[vllm]' (and a CUDA GPU); "
            "use --backend transformers on CPU"
        ) from exc
    if not torch.cuda.is_available():
        raise VLLMUnavailableError("the vllm backend needs a CUDA GPU (none visible); use --backend transformers")
    return vllm


class VLLMBackend:
    """A vLLM engine behind the :class:`~agents.llm.backend.Backend` interface.

    Args:
        model: ``"smollm2"`` (the cached safetensors copy), an HF id or a local directory. ``"tiny"`` has no
            weights on disk and is not supported.
        dtype: vLLM's dtype (``"float32"`` keeps log-probs comparable with the transformers backend).
        gpu_memory_utilization: fraction of GPU memory vLLM may reserve.
    """

    def __init__(self, model: str, dtype: str = "float32", gpu_memory_utilization: float = 0.5) -> None:
        vllm = _check_available()
        if model == "tiny":
            raise ValueError("the tiny test model has no weights on disk; use --backend transformers with it")
        self._vllm = vllm
        self.model_path = str(ensure_smollm2_cached()) if model == "smollm2" else model
        self.name = f"{model}@vllm"
        self.dtype = dtype
        kwargs = {"model": self.model_path, "dtype": dtype, "gpu_memory_utilization": gpu_memory_utilization, "seed": 0}
        try:
            self.llm = vllm.LLM(**kwargs, logprobs_mode="processed_logprobs")
        except TypeError:  # vLLM < 0.10.2 has no logprobs_mode (and returns raw log-probs)
            self.llm = vllm.LLM(**kwargs)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)  # renders prompts exactly as transformers does
        self._scorer = None

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingConfig, seed: int) -> list[Sample]:
        """Sample one completion per prompt; request ``i`` is seeded with ``seed + i``."""
        if not prompts:
            return []
        params = [
            self._vllm.SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                logprobs=0,
                seed=int(seed) + i,
            )
            for i in range(len(prompts))
        ]
        requests = [{"prompt_token_ids": list(p)} for p in prompts]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        samples = []
        for output in outputs:
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            logprobs = [float(step[token].logprob) for token, step in zip(ids, completion.logprobs or [])]
            samples.append(Sample(token_ids=ids, logprobs=logprobs, finished=completion.finish_reason == "stop"))
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
        """Differentiable log-probs and entropies from a transformers copy of the weights on the GPU."""
        if self._scorer is None:
            from transformers import AutoModelForCausalLM

            from agents.llm.hf import TransformersBackend

            model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype)).to("cuda")
            self._scorer = TransformersBackend(model, self.tokenizer, self.name)
        return self._scorer.score(prompts, completions, temperature=temperature, batch_size=batch_size, model=model)
