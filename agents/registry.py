"""Agents by name, the same everywhere (CLI, trainers, tests): built-ins or ``package.module:factory``."""

from __future__ import annotations

from typing import Any

from agents.base import MemoryAgent
from memenv.specs import resolve_spec

AGENTS = {
    "no-memory": "agents.baselines:NoMemory",
    "store-all": "agents.baselines:StoreAll",
    "mem0-like": "agents.mem0_like:Mem0Like",
    "oracle": "agents.baselines:Oracle",
    "llm": "agents.llm:make_llm_agent",
}


def make_agent(name: str, **kwargs: Any) -> MemoryAgent:
    """Build an agent: one of ``AGENTS`` or a ``package.module:factory`` returning an object with ``act``.

    Keyword arguments go to the factory (e.g. ``model=``, ``backend=`` for ``llm``).
    """
    if name not in AGENTS and ":" not in name:
        raise ValueError(f"unknown agent {name!r}; choose one of {sorted(AGENTS)} or 'package.module:factory'")
    agent = resolve_spec(AGENTS.get(name, name), method="act", what="agent factory")(**kwargs)
    if not callable(getattr(agent, "act", None)):
        raise TypeError(f"{name!r} built {type(agent).__name__}, which has no act(observation, info) method")
    return agent
