"""The agent interface: anything with ``act(observation, info) -> action`` is a memory agent."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

GOLD_INFO_KEYS = ("gold", "gold_facts")  # privileged info (docs/environment.md); only a privileged agent sees it


@runtime_checkable
class MemoryAgent(Protocol):
    """A memory agent. ``act`` gets the env's observation and info (``info["role"]`` says which role acts and
    ``info["view"]`` holds the structured view) and returns text, an action object, or a plain dict.
    ``reset()``, if defined, is called at the start of every episode."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any: ...


class RoleSplit:
    """Two agents as one: ``extractor`` plays the extractor's steps and ``manager`` the manager's -- e.g. the
    reference agent's rule extractor under an LLM manager trained manager-only (``memr2 sft --roles manager``,
    ``memr2 train --scripted-role extractor``), evaluated as it was trained.

    Attributes other than ``act`` / ``reset`` / ``privileged`` / ``name`` (an LLM's ``backend``, ``records``,
    ``stats``, ...) are the manager's. An extractor that does not declare ``privileged`` never sees gold.
    """

    def __init__(self, extractor: Any, manager: Any, extractor_name: str = "scripted") -> None:
        self.extractor, self.manager = extractor, manager
        self.privileged = bool(getattr(extractor, "privileged", False) or getattr(manager, "privileged", False))
        self.name = f"{getattr(manager, 'name', type(manager).__name__)}+{extractor_name}-extractor"

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        if info["role"] == "extractor":
            privileged = getattr(self.extractor, "privileged", False)
            shown = info if privileged else {k: v for k, v in info.items() if k not in GOLD_INFO_KEYS}
            return self.extractor.act(observation, shown)
        return self.manager.act(observation, info)

    def reset(self, *args: Any, **kwargs: Any) -> None:
        for agent in (self.extractor, self.manager):
            if callable(getattr(agent, "reset", None)):
                agent.reset(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in ("extractor", "manager"):  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.manager, name)
