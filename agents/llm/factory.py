"""Build backends and LLM agents by name: what ``--agent llm --model ... --backend ...`` resolves to."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from agents.base import RoleSplit
from agents.llm.agent import LLMAgent
from agents.llm.backend import Backend
from agents.llm.hf import TransformersBackend
from agents.llm.loading import load_model, warm_start_prompt
from agents.llm.openai_backend import EndpointConfig, OpenAIBackend

BACKENDS = ("transformers", "vllm", "openai")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@lru_cache(maxsize=4)
def load_backend(
    model: str = "smollm2",
    backend: str = "transformers",
    dtype: str = "float32",
    device: str | None = None,
    seed: int = 0,
    base_url: str | None = None,
) -> Backend | OpenAIBackend:
    """A backend for ``model`` (``"tiny"``, ``"smollm2"``, an HF id, a directory or a ``.gguf`` path; for
    ``backend="openai"``, the name the server at ``base_url`` serves it under).

    Cached per arguments, so an agent, its answerer and a trainer in one process share one copy of the weights.
    ``seed`` only matters for ``"tiny"`` (its random initialisation).
    """
    if backend == "openai":
        return OpenAIBackend(EndpointConfig(model=model, base_url=base_url))
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if backend == "transformers":
        return TransformersBackend(*load_model(model, dtype=_DTYPES[dtype], device=device, seed=seed))
    if backend == "vllm":
        from agents.llm.vllm_backend import VLLMBackend

        return VLLMBackend(model, dtype=dtype)
    raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")


def make_llm_agent(
    model: str = "smollm2",
    backend: str = "transformers",
    *,
    fmt: str = "lines",
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
    dtype: str = "float32",
    device: str | None = None,
    few_shot: bool = True,
    record: bool = True,
    action_format: str | None = None,
    prompt_style: str | None = None,
    extractor: str | None = None,
    base_url: str | None = None,
    endpoint: dict[str, Any] | None = None,
) -> LLMAgent | RoleSplit:
    """The LLM agent for ``memr2 play|eval --agent llm --model tiny|smollm2|<HF id or path> [--backend ...]``.

    ``--backend openai --model NAME --base-url URL`` uses a model served over HTTP; ``endpoint`` takes the other
    :class:`~agents.llm.openai_backend.EndpointConfig` fields (concurrency, timeout, retries, prices, ...).
    ``action_format`` / ``prompt_style`` default to what a ``memr2 sft`` model directory was trained with (its
    ``sft.json``), else ``"line"`` / ``"fewshot"``. ``extractor``: an agent name (e.g. ``"reference"``) that plays
    the extractor while the LLM manages (:class:`~agents.base.RoleSplit`), or ``"llm"`` for both roles; default:
    the teacher of a manager-only ``memr2 sft`` directory (it is scored as trained), else ``"llm"``.
    """
    trained = warm_start_prompt(model)
    extractor = extractor or trained.get("extractor", "llm")
    action_format = action_format or trained.get("action_format", "line")
    prompt_style = prompt_style or trained.get("prompt_style", "fewshot")
    if backend == "openai":
        loaded = OpenAIBackend(EndpointConfig(model=model, base_url=base_url, **(endpoint or {})))
    elif base_url is not None or endpoint:
        raise ValueError(f"--base-url and endpoint options are for --backend openai, not {backend!r}")
    else:
        loaded = load_backend(model, backend, dtype, device, seed if model == "tiny" else 0)
    agent = LLMAgent(
        loaded,
        fmt=fmt,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        few_shot=few_shot,
        record=record,
        action_format=action_format,
        prompt_style=prompt_style,
    )
    if extractor == "llm":
        return agent
    from agents.registry import make_agent

    return RoleSplit(make_agent(extractor), agent, extractor)
