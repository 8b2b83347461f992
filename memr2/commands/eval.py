"""``memr2 eval``: run an agent over an environment's conversations and write a result JSON.

Example::

    memr2 eval --env MemoryR2/LoCoMo-v0 --agent mem0-like --output-dir leaderboards/results
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from memr2 import __version__
from memr2.results import EpisodeSummary, MemoryStats, Metrics, RunResult, git_commit, write_result
from memr2.commands import add_env_agent_flags, agent_kwargs_from, env_kwargs_from, make_agent, make_env


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate an agent on a memory environment and write a result JSON",
        description="Run an agent through every conversation (or --episodes seeds) and write one result file.",
    )
    add_env_agent_flags(parser, env="MemoryR2/LoCoMo-v0", agent=None)
    parser.add_argument("--conversations", nargs="+", default=None, help="conversation ids (default: all)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes for envs without a conversation list")
    parser.add_argument("--data-path", default=None, help="LoCoMo file (default: $MEMR2_LOCOMO_PATH or dev subset)")
    parser.add_argument("--include-adversarial", action="store_true", help="score LoCoMo's adversarial questions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    parser.add_argument("--output-dir", default="runs", help="where the result JSON goes (default: %(default)s)")
    parser.add_argument("--run-name", default="", help="file name stem (default: {env}__{agent}__{seed}__{time})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def eval_env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`memr2.commands.env_kwargs_from` plus eval's LoCoMo flags."""
    kwargs = env_kwargs_from(args)
    if args.data_path is not None:
        kwargs.setdefault("data_path", args.data_path)
    if args.include_adversarial:
        kwargs.setdefault("include_adversarial", True)
    return kwargs


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
        if args.max_sessions:
            sessions = min(sessions, args.max_sessions)
        plan.append((args.seed + i, {"conversation": conversation_id}, 2 * sessions * core.chunks_per_session))
    return plan


def evaluate(args: argparse.Namespace) -> RunResult:
    """Run the episodes and build the result (no file written)."""
    from tqdm import tqdm

    from agents.rollout import run_episode
    from memenv.scoring.base import QARecord, summarize

    start = time.perf_counter()
    env_kwargs = eval_env_kwargs(args)
    agent_kwargs = agent_kwargs_from(args)
    env = make_env(args.env, env_kwargs)
    agent = make_agent(args.agent, agent_kwargs)
    plan = plan_episodes(env, args)
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
    return RunResult(
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
        commit=git_commit(),
        episodes=episodes,
        records=records,
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
    result = evaluate(args)
    path = write_result(result, args.output_dir)
    print_table(result)
    print(f"wrote {path}")
    return 0
