"""The agent interface: anything with ``act(observation, info) -> action`` is a memory agent."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MemoryAgent(Protocol):
    """A memory agent. ``act`` gets the env's observation and info (``info["role"]`` says which role acts and
    ``info["view"]`` holds the structured view) and returns text, an action object, or a plain dict.
    ``reset()``, if defined, is called at the start of every episode."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any: ...
