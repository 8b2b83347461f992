"""``memr2 eval``: run an agent over an environment's conversations and write a result JSON.

Example::

    memr2 eval --protocol locomo-dev --agent mem0-like --output-dir leaderboards/results
    memr2 eval --env MemoryR2/Synthetic-v1 --agent my_agent.py:make_agent --save-trajectories steps.jsonl
    memr2 eval --protocol synthetic-v1-8 --untrusted-agent "python -m agents.remote store-all" --seed-secret-file s

``--untrusted-agent CMD`` runs the agent as its own process (:mod:`memr2.untrusted`); with ``--protocol`` and a
seed secret (:mod:`memr2.secret_seeds`) the result is marked ``verified``, every other one ``self-reported``.

Before any episode runs, ``--output-dir`` and the trajectories file's folder are checked to be writable folders.
An agent whose ``act()`` returns something that is no action at all (``42``, ``None``: not text, a dict or an
action object) stops the run with a one-line error unless ``--allow-invalid-actions`` scores it as an invalid
action. Ctrl-C ends the run with exit status 130: the episodes that finished are written to
``<run name>.json.partial`` (which ``memr2 leaderboard`` never reads) and the trajectories file ends with a line
``{"partial": true, ...}`` (docs/leaderboard.md, "Interrupted runs").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import gymnasium as gym

from memr2 import __version__
from memr2.commands import (
    AGENT_HELP, add_env_agent_flags, add_threads_flag, agent_kwargs_from, command_line, env_kwargs_from, json_object,
    make_agent, make_env,
)
from memr2.protocols import PROTOCOLS, Protocol, apply_protocol, check_data, get_protocol
from memr2.results import (
    EpisodeSummary,
    MemoryStats,
    Metrics,
    RunResult,
    default_run_name,
    is_privileged,
    write_result,
)
from memr2.endpoints import add_endpoint_options, endpoint_agent_kwargs, endpoint_env_kwargs, print_plan, usage_by_role
from memr2.ceiling_report import ceiling_block, errata_block, print_ceilings
from memr2.judge_report import judge_block, print_judge
from memr2.runtime import limit_threads, provenance

DEFAULT_ENV = "MemoryR2/LoCoMo-v0"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate an agent on a memory environment and write a result JSON",
        description="Run an agent through every conversation (or --episodes seeds) and write one result file. "
        "--protocol NAME runs a named leaderboard protocol (--list-protocols shows them).",
    )
    env_help = f"environment id (default: the protocol's, else {DEFAULT_ENV})"
    add_env_agent_flags(parser, env=None, agent=None, env_help=env_help, require_agent=False,
                        agent_help=f"{AGENT_HELP} (run in this process; or give --untrusted-agent)")
    parser.add_argument("--protocol", default=None, help="a named protocol (env, episodes, seeds, horizon, scorer)")
    parser.add_argument("--list-protocols", action=ListProtocols, help="print the protocols and exit")
    parser.add_argument("--conversations", nargs="+", default=None, help="conversation ids (default: all)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes for envs without a conversation list")
    parser.add_argument("--data-path", default=None, help="LoCoMo file (default: $MEMR2_LOCOMO_PATH or dev subset)")
    parser.add_argument("--include-adversarial", action="store_true", help="score LoCoMo's adversarial questions")
    parser.add_argument("--seed", type=int, default=None, help="seed of the first episode (default 0); episode i "
                        "uses seed + i")
    parser.add_argument("--output-dir", default="runs", help="where the result JSON goes (default: %(default)s)")
    parser.add_argument("--run-name", default="", help="file name stem, replacing a file of that name (default: "
                        "{env}__{agent}__{seed}__{time}, made unique with -2, -3, ...)")
    parser.add_argument("--display-name", default=None, help="the agent's name on the leaderboard (default: --agent)")
    parser.add_argument("--save-trajectories", default=None, metavar="FILE.jsonl",
                        help="write every step (role, view, raw and parsed action, error, reward) as JSON lines")
    parser.add_argument("--allow-invalid-actions", action="store_true",
                        help="score an act() that returns no action at all (e.g. 42 or None) as an invalid action "
                        "(penalised, counted) instead of stopping with an error")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_untrusted_flags(parser)
    add_threads_flag(parser)
    add_endpoint_options(parser)
    parser.set_defaults(func=run)


def add_untrusted_flags(parser: argparse.ArgumentParser) -> None:
    """The untrusted-agent mode's flags (docs/reliability.md, "The untrusted-agent mode")."""
    from memr2.secret_seeds import SECRET_ENV
    from memr2.untrusted import DEFAULT_MAX_FAILURES, DEFAULT_STEP_TIMEOUT

    group = parser.add_argument_group(
        "untrusted-agent mode", "Run the agent as a separate process that sees only views and sends back action "
        "text (docs/agents.md, 'An agent in its own process'). With --protocol and a seed secret the result is "
        "marked verified; every other result is self-reported.")
    group.add_argument("--untrusted-agent", default=None, metavar="CMD",
                       help="the agent's command line, split like a shell would but run without one, e.g. "
                       "'python -m agents.remote store-all' (instead of --agent)")
    group.add_argument("--agent-step-timeout", type=float, default=DEFAULT_STEP_TIMEOUT, metavar="SECONDS",
                       help="seconds the agent has to answer one step; a late reply is an invalid action "
                       "(default: %(default)s)")
    group.add_argument("--agent-max-failures", type=int, default=DEFAULT_MAX_FAILURES, metavar="N",
                       help="failed replies in a row (timeout, oversize, garbage) after which the agent is stopped "
                       "and every remaining step is an invalid action (default: %(default)s)")
    group.add_argument("--agent-env", action="append", default=None, metavar="NAME=VALUE",
                       help="a variable to give the agent's process (repeatable); it gets no other variable of yours "
                       "but PATH, LANG, LC_ALL and TZ")
    group.add_argument("--seed-secret-file", default=None, metavar="PATH",
                       help=f"draw the protocol's seeds (and LoCoMo's conversation order) from HMAC-SHA256(secret, "
                       f"protocol); the result records sha256(secret); default ${SECRET_ENV} (memr2 verify-reveal "
                       "checks a result once the secret is revealed)")


def check_agent_choice(args: argparse.Namespace) -> None:
    """Exactly one of ``--agent`` / ``--untrusted-agent``; the in-process agent's flags only with ``--agent``."""
    untrusted = getattr(args, "untrusted_agent", None)
    if bool(args.agent) == bool(untrusted):
        raise ValueError("give one of --agent NAME (runs in this process) or --untrusted-agent CMD (its own process)")
    given = [flag for flag, name in (("--model", "model"), ("--backend", "backend"), ("--agent-kwargs", "agent_kwargs"))
             if getattr(args, name, None) is not None]
    if untrusted and given:
        raise ValueError(f"{', '.join(given)} configure an in-process --agent; an --untrusted-agent takes its settings "
                         "in its own command line")


def build_agent(args: argparse.Namespace, agent_kwargs: dict[str, Any]) -> Any:
    """The in-process agent of ``--agent``, or a :class:`memr2.untrusted.RemoteAgent` for ``--untrusted-agent``
    (its process started; ``args.agent`` becomes the command, as results record it)."""
    if not getattr(args, "untrusted_agent", None):
        return make_agent(args.agent, agent_kwargs)
    from memr2.untrusted import RemoteAgent, agent_env_pairs, parse_command

    argv = parse_command(args.untrusted_agent)
    args.agent = args.untrusted_agent
    return RemoteAgent(argv, step_timeout=args.agent_step_timeout, max_failures=args.agent_max_failures,
                       extra_env=agent_env_pairs(args.agent_env))


class ListProtocols(argparse.Action):
    """``--list-protocols``: print every protocol and exit, like ``--version``."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        for protocol in PROTOCOLS.values():
            print(f"{protocol.name}: {protocol.summary()}\n    {protocol.description}")
        parser.exit()


def resolve_run(args: argparse.Namespace) -> tuple[Protocol | None, dict[str, Any]]:
    """The protocol (if any) and the environment arguments; fills ``args.env`` / ``seed`` / ``episodes``."""
    if args.episodes is not None and args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    env_kwargs = env_kwargs_from(args)
    served = endpoint_env_kwargs(args)  # --answerer / --judge / --max-questions
    if "scorer_kwargs" in served:
        served["scorer_kwargs"] = {**served["scorer_kwargs"], **env_kwargs.get("scorer_kwargs", {})}
    env_kwargs = {**env_kwargs, **served, **json_object(args.env_kwargs, "--env-kwargs")}  # --env-kwargs wins
    if args.data_path is not None:
        env_kwargs.setdefault("data_path", args.data_path)
    if args.protocol is not None:
        protocol = get_protocol(args.protocol)
        return protocol, apply_protocol(args, protocol, env_kwargs)
    if args.include_adversarial:
        env_kwargs.setdefault("include_adversarial", True)
    args.env = args.env or DEFAULT_ENV
    args.seed = 0 if args.seed is None else args.seed
    return None, env_kwargs


def plan_episodes(env: Any, args: argparse.Namespace) -> list[tuple[int, dict[str, Any], int | None]]:
    """``(seed, reset options, expected steps or None)`` per episode."""
    core = env.unwrapped
    known = {c.conversation_id: c for c in getattr(core, "conversations", ())}
    if args.conversations:
        missing = [c for c in args.conversations if c not in known]
        if missing:
            raise ValueError(f"unknown conversations {missing}; available: {sorted(known)}")
        ids = list(args.conversations)
    elif known and args.episodes is None:
        ids = list(known)
    else:
        return [(args.seed + i, {}, None) for i in range(args.episodes or 1)]
    plan = []
    for i, conversation_id in enumerate(ids):
        sessions = len(known[conversation_id].sessions)
        if core.max_sessions:
            sessions = min(sessions, core.max_sessions)
        plan.append((args.seed + i, {"conversation": conversation_id}, 2 * sessions * core.chunks_per_session))
    return plan


class RequireActions(gym.Wrapper):
    """Stop the run (``ValueError``) when the agent's action is not text, a dict, an action object or a
    ``ParseError`` (an agent's own "I could not parse my output", e.g. the LLM agent's: the env scores it as an
    invalid action): an agent that returns ``42`` or ``None`` has a bug, and scoring it as a run of invalid actions
    would hide it."""

    def step(self, action: Any):
        from memenv.actions import ExtractAction, ManageAction, ParseError

        if not isinstance(action, (str, dict, ExtractAction, ManageAction, ParseError)):
            raise ValueError(
                f"the agent's act() returned {type(action).__name__} {action!r:.60}; it must return text, a dict or "
                "an action object (docs/agents.md); --allow-invalid-actions scores it as an invalid action instead")
        return self.env.step(action)


def writable_folder(folder: Path, flag: str) -> None:
    """Pre-flight, writing nothing: ``folder`` can hold a new file (an existing folder takes a probe file, deleted at
    once; a missing one needs its nearest existing ancestor to be a writable folder); a ``ValueError`` naming
    ``flag`` otherwise, before any episode runs."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {folder}: {existing} is a file, not a folder")
    try:
        if existing == folder:
            with tempfile.TemporaryFile(dir=folder):
                pass
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot create folders in {existing}")
    except OSError as exc:
        raise ValueError(f"{flag} {folder}: cannot write there ({exc.strerror or exc})") from None


def check_outputs(args: argparse.Namespace) -> None:
    """Pre-flight for everything ``memr2 eval`` writes: the result folder and the trajectories file."""
    writable_folder(Path(args.output_dir), "--output-dir")
    if args.save_trajectories:
        path = Path(args.save_trajectories)
        if path.is_dir():
            raise ValueError(f"--save-trajectories {path}: a folder is in the way; give a file name")
        writable_folder(path.parent, "--save-trajectories")


def run_plan(env: Any, agent: Any, plan: list, args: argparse.Namespace) -> tuple[list, list, bool]:
    """Play the planned episodes; returns (episode summaries, QA records, interrupted). Ctrl-C stops the run
    between or inside episodes: what finished is returned, the episode it interrupted is dropped."""
    from tqdm import tqdm

    from agents.rollout import run_episode

    by_step = all(steps for *_, steps in plan)  # else the bar counts episodes
    total = sum(steps for *_, steps in plan) if by_step else len(plan)
    episodes, records = [], []
    unit = "step" if by_step else "episode"
    with tqdm(total=total, desc=f"eval {args.agent}", unit=unit, disable=args.no_progress) as bar:
        try:
            for seed, options, _ in plan:
                on_step = (lambda _info: bar.update()) if by_step else None
                result = run_episode(env, agent, seed=seed, options=options, on_step=on_step)
                bar.update(0 if by_step else 1)
                episodes.append(EpisodeSummary(**result.model_dump(include=set(EpisodeSummary.model_fields))))
                records += [{"conversation_id": result.conversation_id, **record} for record in result.qa]
        except KeyboardInterrupt:
            return episodes, records, True
    return episodes, records, False


def evaluate(args: argparse.Namespace, trajectories: IO[str] | None = None) -> tuple[RunResult, bool]:
    """Run the episodes and build the result (no file written); every step goes to ``trajectories`` if given.
    Returns (result, interrupted): after Ctrl-C the result covers the episodes that finished."""
    from memenv.registration import privileged_kwargs
    from memenv.scoring.base import QARecord, summarize
    from memenv.wrappers import RecordTrajectory

    from memr2.secret_seeds import commitment, protocol_key, read_secret, secret_path, secret_plan

    start = time.perf_counter()
    check_agent_choice(args)
    origin = provenance(command_line(args), args.torch_threads)  # the code as it is when the run starts
    protocol, env_kwargs = resolve_run(args)
    path = secret_path(getattr(args, "seed_secret_file", None))
    secret = read_secret(path) if path else None
    if secret is not None and protocol is None:
        raise ValueError("a seed secret draws the seeds of a named protocol: add --protocol NAME")
    agent_kwargs = {**agent_kwargs_from(args), **endpoint_agent_kwargs(args)}
    agent = build_agent(args, agent_kwargs)
    try:
        if getattr(agent, "privileged", False):  # oracles ask for gold; the result's env_kwargs record it
            env_kwargs = {**privileged_kwargs(args.env), **env_kwargs}
        env = make_env(args.env, env_kwargs)
        if protocol is not None:
            check_data(protocol, env)
        if trajectories is not None:
            env = RecordTrajectory(env, trajectories)
        if not (args.allow_invalid_actions or args.untrusted_agent):  # a remote reply is text, a dict or an error
            env = RequireActions(env)
        plan = plan_episodes(env, args)
        if secret is not None:
            plan = secret_plan(plan, protocol_key(secret, protocol.name))
        print_plan(agent, env, plan, args)
        episodes, records, interrupted = run_plan(env, agent, plan, args)
        env.close()
    finally:
        if args.untrusted_agent:
            agent.close()
            if agent.summary():
                print(f"memr2 eval: untrusted agent: {agent.summary()}", file=sys.stderr)
    qa_fields = set(QARecord.model_fields)
    metrics = summarize([QARecord.model_validate({k: v for k, v in r.items() if k in qa_fields}) for r in records])
    metrics["judge"] = judge_block(records, env.unwrapped.scorer)
    gold = {"errata": errata_block(env), "ceiling": ceiling_block(env, records)}  # extra RunResult fields
    return RunResult(
        **{key: value for key, value in gold.items() if value is not None},
        kind="eval",
        run_name=args.run_name,
        env_id=args.env,
        env_kwargs=env_kwargs,
        agent=args.agent,
        agent_kwargs={k: v for k, v in agent_kwargs.items() if k != "model"},
        model=agent_kwargs.get("model"),
        scorer=env.unwrapped.scorer.name,
        seeds=[seed for seed, *_ in plan][: len(episodes)],
        metrics=Metrics.model_validate(metrics),
        memory=MemoryStats(entries=sum(e.entries for e in episodes), tokens=sum(e.tokens for e in episodes)),
        invalid_actions=sum(e.invalid_actions for e in episodes),
        wall_time_s=time.perf_counter() - start,
        version=__version__,
        **origin,
        protocol=protocol.name if protocol else None,
        privileged=is_privileged(args.agent, args.env, env_kwargs),
        display_name=args.display_name,
        mode="verified" if args.untrusted_agent and secret is not None else "self-reported",
        seed_commitment=commitment(secret) if secret is not None else None,
        episodes=episodes,
        records=records,
        usage=usage_by_role(agent, env.unwrapped.scorer),
    ), interrupted


def print_table(result: RunResult) -> None:
    """Per-category means and counts, then the overall score, evidence metrics and bank size."""
    from rich.console import Console
    from rich.table import Table

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    metrics = result.metrics
    table = Table()
    table.add_column("category")
    table.add_column("mean", justify="right")
    table.add_column("count", justify="right")
    for name, category in metrics.per_category.items():
        table.add_row(name, fmt(category.mean), str(category.count))
    table.add_row("[bold]overall[/bold]", f"[bold]{fmt(metrics.score)}[/bold]", str(metrics.count))
    console = Console()
    console.print(f"[bold]{result.agent}[/bold] on {result.env_id} ({result.scorer} scorer)")
    console.print(table)
    console.print(
        f"evidence recall {fmt(metrics.evidence_recall)}  m-fail {fmt(metrics.m_fail)}  "
        f"memory {result.memory.entries} entries / {result.memory.tokens} tokens  "
        f"invalid actions {result.invalid_actions}  wall {result.wall_time_s:.1f}s"
    )


def run(args: argparse.Namespace) -> int:
    limit_threads(args.torch_threads)
    check_outputs(args)
    if args.save_trajectories:
        Path(args.save_trajectories).parent.mkdir(parents=True, exist_ok=True)
        with open(args.save_trajectories, "w", encoding="utf-8") as trajectories:
            result, interrupted = evaluate(args, trajectories)
            if interrupted:  # the last episode's lines may stop mid-episode: say so in the file itself
                trajectories.write(json.dumps({"partial": True, "episodes_finished": len(result.episodes)}) + "\n")
    else:
        result, interrupted = evaluate(args)
    if interrupted:
        return save_partial(result, args)
    path = write_result(result, args.output_dir)
    print_table(result)
    print_judge(result)
    print_usage(result)
    print_ceilings(result)
    print(f"wrote {path}" + (f" and {args.save_trajectories}" if args.save_trajectories else ""))
    if result.invalid_actions:
        print(f"memr2 eval: note: {result.invalid_actions} invalid action(s) were penalised; --save-trajectories "
              "shows each one's error", file=sys.stderr)
    return 0


def save_partial(result: RunResult, args: argparse.Namespace) -> int:
    """After Ctrl-C: the finished episodes' result as ``<name>.json.partial`` (never read by the leaderboard), one
    line on stderr, exit status 130."""
    from memenv.files import write_text_atomic
    from memr2.results import slug

    saved = "no episode had finished"
    if result.episodes:
        path = Path(args.output_dir) / f"{slug(result.run_name or default_run_name(result))}.json.partial"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, result.model_dump_json(indent=2) + "\n")
        saved = f"the {len(result.episodes)} finished episode(s) are in {path}"
    marked = f"; {args.save_trajectories} ends with a partial marker" if args.save_trajectories else ""
    print(f"memr2 eval: interrupted: {saved}{marked}", file=sys.stderr)
    return 130


def print_usage(result: RunResult) -> None:
    """One line per model role with requests, and how many replies came from the answer/verdict cache."""
    for role, usage in result.usage.items():
        cached = usage.cached
        if cached:
            print(f"{role}: {cached} repl{'y' if cached == 1 else 'ies'} from the cache "
                  + ("(--no-judge-cache asks the judge again)" if role == "judge" else "(cached answers are reused)"))
