"""The LLM agent: one causal-LM backbone, two role prompts, pluggable backends (transformers, tiny, vllm, openai).

``make_llm_agent(model="tiny"|"smollm2"|<HF id or path>|<served name>, backend="transformers"|"vllm"|"openai", ...)``
is what ``--agent llm`` builds. The names below import torch and transformers when first used (``memenv`` never
does); ``agents.llm.openai_backend`` needs neither, so the LLM scorer can load an HTTP answerer or judge without
them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ActionRecord": "agents.llm.agent",
    "LLMAgent": "agents.llm.agent",
    "LLMAnswerer": "agents.llm.answerer",
    "Backend": "agents.llm.backend",
    "ChatBackend": "agents.llm.backend",
    "Sample": "agents.llm.backend",
    "SamplingConfig": "agents.llm.backend",
    "load_backend": "agents.llm.factory",
    "make_llm_agent": "agents.llm.factory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agents.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
