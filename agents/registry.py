"""Agents by name, the same everywhere (CLI, trainers, tests): built-ins, ``package.module:factory`` or
``path/to/file.py:factory``."""

from __future__ import annotations

from typing import Any

from agents.base import MemoryAgent
from memenv.objects import check_keywords, resolve_spec

AGENTS = {
    "no-memory": "agents.baselines:NoMemory",
    "store-all": "agents.baselines:StoreAll",
    "mem0-like": "agents.mem0_like:Mem0Like",
    "oracle": "agents.baselines:Oracle",
    "restricted-oracle": "agents.restricted_oracle:RestrictedOracle",
    "reference": "agents.reference:ReferenceAgent",
    "llm": "agents.llm:make_llm_agent",
}
#: The built-ins that read gold (their class says ``privileged = True``). Kept by name so that checking a result
#: file never imports or runs an agent; a test keeps it equal to the classes' attribute.
PRIVILEGED_AGENTS = frozenset({"oracle", "restricted-oracle"})


def agent_factory(name: str) -> Any:
    """The factory behind an agent name: one of ``AGENTS``, ``package.module:factory`` or ``path/to/file.py:factory``
    (resolved by :func:`memenv.objects.resolve_spec`, which also searches the working directory and refuses
    anything but a class with ``act`` or a Python function, before calling it)."""
    if name not in AGENTS and ":" not in name:
        raise ValueError(
            f"unknown agent {name!r}; choose one of {sorted(AGENTS)}, "
            "'package.module:factory' or 'path/to/file.py:factory'"
        )
    return resolve_spec(AGENTS.get(name, name), method="act", what="agent factory")


def make_agent(name: str, **kwargs: Any) -> MemoryAgent:
    """Build an agent by name (see :func:`agent_factory`); keyword arguments go to the factory (e.g. ``model=``,
    ``backend=`` for ``llm``) and one it does not take is a ``ValueError`` naming the closest one it does."""
    factory = agent_factory(name)
    check_keywords(factory, kwargs, f"agent {name!r}")
    agent = factory(**kwargs)
    if not callable(getattr(agent, "act", None)):
        raise ValueError(f"agent {name!r} built {type(agent).__name__}, which has no act(observation, info) method; "
                         "the factory must return an object with act() (docs/agents.md)")
    return agent
