"""``memr2 eval``: run an agent over an environment's conversations and write a result JSON.

Example::

    memr2 eval --protocol locomo-dev --agent mem0-like --output-dir leaderboards/results
    memr2 eval --env MemoryR2/Synthetic-v0 --agent my_agent.py:make_agent --save-trajectories steps.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import IO, Any

from memr2 import __version__
from memr2.commands import (
    add_env_agent_flags, add_threads_flag, agent_kwargs_from, command_line, env_kwargs_from, json_object, make_agent,
    make_env,
)
from memr2.protocols import PROTOCOLS, Protocol, apply_protocol, check_data, get_protocol
from memr2.results import (
    EpisodeSummary,
    MemoryStats,
    Metrics,
    RunResult,
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
    add_env_agent_flags(parser, env=None, agent=None, env_help=env_help)
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
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_threads_flag(parser)
    add_endpoint_options(parser)
    parser.set_defaults(func=run)


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


def evaluate(args: argparse.Namespace, trajectories: IO[str] | None = None) -> RunResult:
    """Run the episodes and build the result (no file written); every step goes to ``trajectories`` if given."""
    from tqdm import tqdm

    from agents.rollout import run_episode
    from memenv.registration import privileged_kwargs
    from memenv.scoring.base import QARecord, summarize
    from memenv.wrappers import RecordTrajectory

    start = time.perf_counter()
    protocol, env_kwargs = resolve_run(args)
    agent_kwargs = {**agent_kwargs_from(args), **endpoint_agent_kwargs(args)}
    agent = make_agent(args.agent, agent_kwargs)
    if getattr(agent, "privileged", False):  # oracles ask for gold; the result's env_kwargs record it
        env_kwargs = {**privileged_kwargs(args.env), **env_kwargs}
    env = make_env(args.env, env_kwargs)
    if protocol is not None:
        check_data(protocol, env)
    if trajectories is not None:
        env = RecordTrajectory(env, trajectories)
    plan = plan_episodes(env, args)
    print_plan(agent, env, plan, args)
    by_step = all(steps for *_, steps in plan)  # else the bar counts episodes
    total = sum(steps for *_, steps in plan) if by_step else len(plan)
    episodes, records = [], []
    unit = "step" if by_step else "episode"
    with tqdm(total=total, desc=f"eval {args.agent}", unit=unit, disable=args.no_progress) as bar:
        for seed, options, _ in plan:
            on_step = (lambda _info: bar.update()) if by_step else None
            result = run_episode(env, agent, seed=seed, options=options, on_step=on_step)
            bar.update(0 if by_step else 1)
            episodes.append(EpisodeSummary(**result.model_dump(include=set(EpisodeSummary.model_fields))))
            records += [{"conversation_id": result.conversation_id, **record} for record in result.qa]
    env.close()
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
        seeds=[seed for seed, *_ in plan],
        metrics=Metrics.model_validate(metrics),
        memory=MemoryStats(entries=sum(e.entries for e in episodes), tokens=sum(e.tokens for e in episodes)),
        invalid_actions=sum(e.invalid_actions for e in episodes),
        wall_time_s=time.perf_counter() - start,
        version=__version__,
        **provenance(command_line(args), args.torch_threads),
        protocol=protocol.name if protocol else None,
        privileged=is_privileged(args.agent, env_kwargs),
        display_name=args.display_name,
        episodes=episodes,
        records=records,
        usage=usage_by_role(agent, env.unwrapped.scorer),
    )


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
    if args.save_trajectories:
        Path(args.save_trajectories).parent.mkdir(parents=True, exist_ok=True)
        with open(args.save_trajectories, "w", encoding="utf-8") as trajectories:
            result = evaluate(args, trajectories)
    else:
        result = evaluate(args)
    path = write_result(result, args.output_dir)
    print_table(result)
    print_judge(result)
    print_ceilings(result)
    print(f"wrote {path}" + (f" and {args.save_trajectories}" if args.save_trajectories else ""))
    return 0
