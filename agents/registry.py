"""Agents by name, the same everywhere (CLI, trainers, tests): built-ins or ``package.module:factory``."""

from __future__ import annotations

import importlib
from typing import Any

from agents.base import MemoryAgent

AGENTS = {
    "no-memory": "agents.baselines:NoMemory",
    "store-all": "agents.baselines:StoreAll",
    "mem0-like": "agents.mem0_like:Mem0Like",
    "oracle": "agents.baselines:Oracle",
    "restricted-oracle": "agents.restricted_oracle:RestrictedOracle",
    "llm": "agents.llm:make_llm_agent",
}


def load_object(target: str) -> Any:
    """Import ``package.module:attribute`` with an error that says what was wrong."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:factory', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for {target!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None


def make_agent(name: str, **kwargs: Any) -> MemoryAgent:
    """Build an agent: one of ``AGENTS`` or a ``package.module:factory`` returning an object with ``act``.

    Keyword arguments go to the factory (e.g. ``model=``, ``backend=`` for ``llm``).
    """
    if name not in AGENTS and ":" not in name:
        raise ValueError(f"unknown agent {name!r}; choose one of {sorted(AGENTS)} or 'package.module:factory'")
    agent = load_object(AGENTS.get(name, name))(**kwargs)
    if not callable(getattr(agent, "act", None)):
        raise TypeError(f"{name!r} built {type(agent).__name__}, which has no act(observation, info) method")
    return agent
