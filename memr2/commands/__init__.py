"""One module per ``memr2`` sub-command; each defines ``register(subparsers)``.

This module holds what ``play`` and ``eval`` share (and ``train`` in part: ``--scorer`` / ``--scorer-kwargs``
through :func:`add_scorer_flags`): the environment and agent flags, turning them into keyword
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


SPEC_KEYS = ("scorer", "answerer", "judge", "estimator", "agent")
"""Keys whose value may be a ``package.module:attr`` spec, which is imported and called (see memenv.objects)."""
TRUST_HELP = ("the --config file, the --resume run directory's config.json and --env-kwargs / --scorer-kwargs may "
              "name code to import ('package.module:attr'); without this flag they may only name registered scorers, "
              "answerers, estimators and agents")


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """``--trust-specs``: see :data:`TRUST_HELP` and :func:`check_spec_sources`."""
    parser.add_argument("--trust-specs", action="store_true", help=TRUST_HELP)


def registered_specs() -> set[str]:
    """The ``module:attr`` specs shipped with memory-r2 (built-in scorers, agents, answerers); registered names
    without a colon (``recall``, ``logo``) are looked up in their registries and never imported by name."""
    from agents.registry import AGENTS
    from memenv.scoring.base import SCORERS
    from memenv.scoring.llm import ANSWERERS

    return {*SCORERS.values(), *AGENTS.values(), *ANSWERERS}


def unregistered_specs(data: Any, registered: set[str], path: str = "") -> list[str]:
    """``path = value`` for every :data:`SPEC_KEYS` entry of ``data`` (nested dicts and lists searched) whose value
    names code (holds a colon) that is not in ``registered``.

    >>> unregistered_specs({"scorer_kwargs": {"answerer": "subprocess:run", "judge": "a:b"}}, {"a:b"})
    ["scorer_kwargs.answerer = 'subprocess:run'"]
    """
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key in SPEC_KEYS and isinstance(value, str) and ":" in value and value not in registered:
                found.append(f"{where} = {value!r}")
            else:
                found += unregistered_specs(value, registered, where)
        return found
    if isinstance(data, list):
        return [item for i, value in enumerate(data) for item in unregistered_specs(value, registered, f"{path}[{i}]")]
    return []


def check_spec_sources(args: argparse.Namespace) -> None:
    """Refuse, before anything is imported, a spec naming unregistered code in what may come from someone else:
    the ``--config`` file, ``--resume``'s ``config.json`` (fields a flag overrides are not read from them) and
    the ``--env-kwargs`` / ``--scorer-kwargs`` JSON, unless ``--trust-specs`` was given. ``--agent``,
    ``--scorer`` and ``--estimator`` typed on the command line are the user's own choice and pass.
    """
    if getattr(args, "trust_specs", True):
        return
    from pathlib import Path

    from memenv.files import read_mapping

    sources: dict[str, Any] = {}
    for name in ("env_kwargs", "scorer_kwargs"):
        value, flag = getattr(args, name, None), f"--{name.replace('_', '-')}"
        if value is not None:
            sources[flag] = json_object(value, flag) if isinstance(value, str) else value
    files = {"--config": getattr(args, "config", None),
             "--resume": getattr(args, "resume", None) and Path(args.resume) / "config.json"}
    for flag, path in files.items():
        if path and Path(path).is_file():
            body = read_mapping(path)
            body = body.get("trainer", body)  # TrainerConfig.from_file reads the same part
            fields = body if isinstance(body, dict) else {}
            sources[f"{flag} {path}"] = {k: v for k, v in fields.items() if getattr(args, k, None) is None}
    registered = None
    for source, data in sources.items():
        registered = registered if registered is not None else registered_specs()
        found = unregistered_specs(data, registered)
        if found:
            raise ValueError(f"{source} names code to import: {'; '.join(found)}. A config file, run directory or "
                             "JSON flag may only name registered scorers, answerers, estimators and agents; if you "
                             "trust it (it is yours), add --trust-specs")


def add_env_agent_flags(
    parser: argparse.ArgumentParser, *, env: str | None, agent: str | None, env_help: str = "environment id",
    agent_help: str = AGENT_HELP, require_agent: bool | None = None,
) -> None:
    """The flags that choose and configure the environment and the agent (``env`` / ``agent``: defaults; an
    ``agent`` of None makes ``--agent`` required unless ``require_agent`` is False)."""
    parser.add_argument("--env", default=env, help=f"{env_help} (default: {env})" if env else env_help)
    required = agent is None if require_agent is None else require_agent
    parser.add_argument("--agent", default=agent, required=required, help=agent_help)
    parser.add_argument("--model", default=None, help="model for --agent llm (tiny | smollm2 | HF id or path)")
    parser.add_argument("--backend", default=None, help="backend for --agent llm (transformers | vllm | openai)")
    parser.add_argument("--agent-kwargs", default=None, help="JSON object of extra agent factory arguments")
    add_scorer_flags(parser)
    parser.add_argument("--max-sessions", type=int, default=None, help="cap on sessions per episode (env default)")
    parser.add_argument("--chunks-per-session", type=int, default=None, help="chunks per session (env default)")
    parser.add_argument("--compression-coef", type=float, default=None,
                        help="weight of the compression penalty in the env's rewards (env default: 0.3)")
    parser.add_argument("--env-kwargs", default=None, help="JSON object of extra environment arguments")
    add_trust_flag(parser)


def add_scorer_flags(parser: argparse.ArgumentParser) -> None:
    """``--scorer`` / ``--scorer-kwargs``: the same two flags on ``play``, ``eval`` and ``train``."""
    parser.add_argument(
        "--scorer", default=None, help="recall | rule | llm | pkg.mod:Class (default: the env's own, e.g. recall "
        "for LoCoMo, rule for Synthetic)"
    )
    parser.add_argument("--scorer-kwargs", default=None, help="JSON object of scorer arguments, e.g. '{\"top_k\": 5}'")


def scorer_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """The env arguments ``--scorer`` / ``--scorer-kwargs`` ask for (only those given)."""
    kwargs: dict[str, Any] = {"scorer": args.scorer} if args.scorer else {}
    scorer_kwargs = json_object(args.scorer_kwargs, "--scorer-kwargs")
    if scorer_kwargs:
        kwargs["scorer_kwargs"] = scorer_kwargs
    return kwargs


def merge_env_kwargs(flags: dict[str, Any], env_kwargs: dict[str, Any], where: str = "--env-kwargs") -> dict[str, Any]:
    """``env_kwargs`` plus the env arguments given as flags; a key given both ways with different values is an
    error (neither silently wins)."""
    clash = sorted(k for k in flags if k in env_kwargs and env_kwargs[k] != flags[k])
    if clash:
        given = ", ".join(f"--{k.replace('_', '-')} {flags[k]!r} vs {env_kwargs[k]!r}" for k in clash)
        raise ValueError(f"{where} also sets {clash} ({given}); give each once, as a flag or in {where}")
    return {**env_kwargs, **flags}


def env_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """The environment arguments the flags ask for (only those set, so env defaults stay visible as defaults)."""
    kwargs = scorer_kwargs_from(args)
    for name in ("max_sessions", "chunks_per_session", "compression_coef"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    return merge_env_kwargs(kwargs, json_object(args.env_kwargs, "--env-kwargs"))


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
