"""The untrusted-agent wire protocol, agent side: run any agent as a separate process that reads views and writes
actions (``memr2 eval --untrusted-agent CMD``; docs/agents.md, "An agent in its own process").

One JSON line per step goes to the agent's stdin, one JSON line comes back on its stdout::

    -> {"id": 7, "episode": 1, "view": {"role": "extractor", "session": 1, "turns": [...], ...}}
    <- {"id": 7, "action": "- Ann: moved to Lyon [D1:3]"}          (or "action": {"facts": [...]})

``view`` is the role's view exactly as ``observation["text"]`` holds it (:mod:`memenv.views`); ``episode`` counts
from 0 and changes when an episode starts; ``id`` counts every request of the run and the reply must echo it.
Nothing else is sent: no info keys, no gold, no questions, no env. :func:`serve` wraps any memory agent::

    python -m agents.remote store-all                       # a registered agent, or pkg.mod:factory, file.py:factory
    python -m agents.remote my_agent.py:make_agent --agent-kwargs '{"k": 1}'

The protocol needs nothing from memory-r2: a program in any language that answers each line with
``{"id": <the id>, "action": <text or an action dict>}`` is an agent (``tests/cheats/embedded_qa.py`` is one
in the standard library alone).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from memenv.actions import MAX_ACTION_CHARS, ROLES
from memenv.views import canonical_json, parse_view

MAX_REPLY_BYTES = 64 * MAX_ACTION_CHARS
"""Bytes of one reply line (1 MiB). The largest valid action (``MAX_ACTION_ITEMS`` operations of
``MAX_TEXT_CHARS`` characters with their ids, as JSON) fits; a text action is then cut to ``MAX_ACTION_CHARS`` by
the env as any other. A longer line is an invalid action and is skipped to its end."""


class StepRequest(BaseModel):
    """One step, host to agent: the request ``id`` (the reply echoes it), the ``episode`` (from 0) and the view."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    episode: int = Field(ge=0)
    view: dict[str, Any]


class AgentReply(BaseModel):
    """One action, agent to host: the request's ``id`` and the action (text as an LLM wrote it, or a JSON action
    in the shape of ``{"facts": [...]}`` / ``{"operations": [...]}``, validated by the env like any action)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: int = Field(ge=0)
    action: str | dict[str, Any]


def wire_action(action: Any) -> str | dict[str, Any]:
    """What an agent's ``act()`` returned, as it crosses the wire: text and dicts as they are, an action object
    (``ExtractAction`` / ``ManageAction``) as its JSON dict. Anything else is a ``TypeError``."""
    if isinstance(action, (str, dict)):
        return action
    if isinstance(action, BaseModel):
        return action.model_dump(mode="json")
    raise TypeError(f"act() returned {type(action).__name__}; it must return text, a dict or an action object")


def respond(agent: Any, request: StepRequest) -> AgentReply:
    """The reply of ``agent`` to one request: its ``act()`` on the observation and info rebuilt from the view alone
    (``observation = {"role", "session", "text"}``, ``info = {"role", "session", "chunk", "view"}``)."""
    text = canonical_json(request.view)
    view = parse_view(text)
    observation = {"role": ROLES.index(view.role), "session": view.session, "text": text}
    info = {"role": view.role, "session": view.session, "chunk": view.chunk, "view": view}
    return AgentReply(id=request.id, action=wire_action(agent.act(observation, info)))


def serve(agent: Any, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Answer every request line on ``stdin`` (default ``sys.stdin``) with ``agent``'s action on ``stdout``, until
    the host closes the pipe; ``agent.reset()`` is called when a new episode starts. Returns 0."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    episode = None
    for line in stdin:
        request = StepRequest.model_validate_json(line)
        if request.episode != episode:
            episode = request.episode
            if callable(getattr(agent, "reset", None)):
                agent.reset()
        stdout.write(respond(agent, request).model_dump_json() + "\n")
        stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m agents.remote AGENT [--agent-kwargs JSON]``: serve a registered agent over stdin / stdout."""
    from agents.registry import make_agent

    parser = argparse.ArgumentParser(prog="python -m agents.remote", description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", help="a registered agent name, pkg.mod:factory or path/to/file.py:factory")
    parser.add_argument("--agent-kwargs", default="{}", help="JSON object of agent factory arguments")
    args = parser.parse_args(argv)
    kwargs = json.loads(args.agent_kwargs)
    if not isinstance(kwargs, dict):
        parser.error(f"--agent-kwargs must be a JSON object, got {args.agent_kwargs!r}")
    agent = make_agent(args.agent, **kwargs)
    if getattr(agent, "privileged", False):
        parser.error(f"{args.agent} needs gold (privileged), which never crosses the wire")
    return serve(agent)


if __name__ == "__main__":
    raise SystemExit(main())
