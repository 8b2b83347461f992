"""The LLM agent: one causal-LM backbone, two role prompts, pluggable backends (transformers, tiny, vllm).

``make_llm_agent(model="tiny"|"smollm2"|<HF id or path>, backend="transformers"|"vllm", ...)`` is what
``--agent llm`` builds. Importing this package imports torch and transformers; ``memenv`` never does.
"""

from agents.llm.agent import ActionRecord, LLMAgent
from agents.llm.answerer import LLMAnswerer
from agents.llm.backend import Backend, Sample, SamplingConfig
from agents.llm.factory import load_backend, make_llm_agent

__all__ = [
    "ActionRecord",
    "Backend",
    "LLMAgent",
    "LLMAnswerer",
    "Sample",
    "SamplingConfig",
    "load_backend",
    "make_llm_agent",
]
