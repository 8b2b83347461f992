"""One module per ``memr2`` sub-command; each defines ``register(subparsers)``.

This module holds what ``play`` and ``eval`` share: the environment and agent flags, turning them into keyword
arguments, and building the env and the agent with one-line errors for the usual mistakes (a wrong env id, an
argument the env or agent does not take, ``--model`` on an agent without a model). ``memr2.cli.main`` prints a
``ValueError`` or ``FileNotFoundError`` as ``memr2 <command>: error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

AGENT_HELP = ("no-memory | store-all | mem0-like | oracle | restricted-oracle | reference | llm | pkg.mod:factory | "
              "path/to/file.py:factory")
AGENT_FLAGS = {"model": "--model", "backend": "--backend"}  # agent keyword <- flag


def command_line(args: argparse.Namespace) -> str | None:
    """The exact ``memr2`` command line that produced ``args`` (recorded in result files), or None when the
    arguments did not come from ``memr2.cli.main``."""
    argv = getattr(args, "argv", None)
    return shlex.join(["memr2", *argv]) if argv else None


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    """``--torch-threads N`` (default 1): the compute threads of the command's process (recorded in results)."""
    parser.add_argument("--torch-threads", type=int, default=1, metavar="N",
                        help="compute threads per process: torch, BLAS and OpenMP (default: %(default)s; recorded in "
                        "the result, since results can depend on it)")


def json_object(text: str | None, flag: str) -> dict[str, Any]:
    """Parse a flag's JSON-object value (None: not given, ``{}``), with an error that names the flag."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{flag} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    return value


def add_env_agent_flags(
    parser: argparse.ArgumentParser, *, env: str | None, agent: str | None, env_help: str = "environment id"
) -> None:
    """The flags that choose and configure the environment and the agent (``env`` / ``agent``: defaults; an
    ``agent`` of None makes ``--agent`` required)."""
    parser.add_argument("--env", default=env, help=f"{env_help} (default: {env})" if env else env_help)
    parser.add_argument("--agent", default=agent, required=agent is None, help=AGENT_HELP)
    parser.add_argument("--model", default=None, help="model for --agent llm (tiny | smollm2 | HF id or path)")
    parser.add_argument("--backend", default=None, help="backend for --agent llm (transformers | vllm | openai)")
    parser.add_argument("--agent-kwargs", default=None, help="JSON object of extra agent factory arguments")
    parser.add_argument(
        "--scorer", default=None, help="recall | rule | llm | pkg.mod:Class (default: the env's own, e.g. recall "
        "for LoCoMo, rule for Synthetic)"
    )
    parser.add_argument("--scorer-kwargs", default=None, help="JSON object of scorer arguments, e.g. '{\"top_k\": 5}'")
    parser.add_argument("--max-sessions", type=int, default=None, help="cap on sessions per episode (env default)")
    parser.add_argument("--chunks-per-session", type=int, default=None, help="chunks per session (env default)")
    parser.add_argument("--env-kwargs", default=None, help="JSON object of extra environment arguments")


def env_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """The environment arguments the flags ask for (only those set, so env defaults stay visible as defaults)."""
    kwargs: dict[str, Any] = {"scorer": args.scorer} if args.scorer else {}
    scorer_kwargs = json_object(args.scorer_kwargs, "--scorer-kwargs")
    if scorer_kwargs:
        kwargs["scorer_kwargs"] = scorer_kwargs
    for name in ("max_sessions", "chunks_per_session"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    kwargs.update(json_object(args.env_kwargs, "--env-kwargs"))
    return kwargs


def agent_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """``--agent-kwargs`` plus ``--model`` / ``--backend`` where given."""
    kwargs = json_object(args.agent_kwargs, "--agent-kwargs")
    kwargs.update({name: getattr(args, name) for name in AGENT_FLAGS if getattr(args, name) is not None})
    return kwargs


def make_env(env_id: str, kwargs: dict[str, Any]) -> Any:
    """``gymnasium.make(env_id, **kwargs)``, with a ``ValueError`` for an unknown id (Gymnasium's "did you mean",
    else the registered memory-r2 ids) or an argument the env does not take (with the closest one it does)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    import memenv  # noqa: F401  (registers the env ids)
    from memenv.objects import check_keywords
    from memenv.registration import ENVS

    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        hint = "" if "Did you mean" in str(exc) else f" Registered memory-r2 envs: {', '.join(ENVS)}."
        raise ValueError(f"unknown environment {env_id!r}: {exc}{hint}") from None
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    own = {k: v for k, v in kwargs.items() if k not in ("max_episode_steps", "disable_env_checker")}
    check_keywords(creator, {**spec.kwargs, **own}, env_id)
    return gym.make(env_id, **kwargs)


def make_agent(name: str, kwargs: dict[str, Any]) -> Any:
    """The agent ``name`` built with ``kwargs``; ``--model`` / ``--backend`` on an agent whose factory does not
    take them is a ``ValueError`` that says which agents do."""
    from agents.registry import agent_factory
    from agents.registry import make_agent as build
    from memenv.objects import keyword_names

    accepted = keyword_names(agent_factory(name))
    for key, flag in AGENT_FLAGS.items():
        if key in kwargs and accepted is not None and key not in accepted:
            raise ValueError(f"{flag} is only for agents that take {key}= (--agent llm); agent {name!r} does not")
    return build(name, **kwargs)
