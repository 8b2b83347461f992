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
from memr2.commands import json_object
from memr2.endpoints import (
    add_endpoint_options, endpoint_agent_kwargs, endpoint_env_kwargs, print_plan, usage_by_role,
)
from memr2.judge_report import judge_block, print_judge


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate an agent on a memory environment and write a result JSON",
        description="Run an agent through every conversation (or --episodes seeds) and write one result file.",
    )
    parser.add_argument("--env", default="MemoryR2/LoCoMo-v0", help="environment id (default: %(default)s)")
    parser.add_argument(
        "--agent", required=True, help="no-memory | store-all | mem0-like | oracle | llm | pkg.mod:factory"
    )
    parser.add_argument("--model", default=None, help="model for --agent llm (tiny | smollm2 | HF id or path)")
    parser.add_argument("--backend", default=None, help="backend for --agent llm (transformers | vllm | openai)")
    parser.add_argument("--agent-kwargs", default="{}", help="JSON object of extra agent factory arguments")
    parser.add_argument("--scorer", default=None, help="recall | rule | llm | pkg.mod:Class (default: the env's own, e.g. recall for LoCoMo, rule for Synthetic)")
    parser.add_argument("--scorer-kwargs", default="{}", help="JSON object of scorer arguments, e.g. '{\"top_k\": 5}'")
    parser.add_argument("--conversations", nargs="+", default=None, help="conversation ids (default: all)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes for envs without a conversation list")
    parser.add_argument("--max-sessions", type=int, default=None, help="cap on sessions per conversation")
    parser.add_argument("--chunks-per-session", type=int, default=None, help="chunks per session (env default)")
    parser.add_argument("--data-path", default=None, help="LoCoMo file (default: $MEMR2_LOCOMO_PATH or dev subset)")
    parser.add_argument("--include-adversarial", action="store_true", help="score LoCoMo's adversarial questions")
    parser.add_argument("--env-kwargs", default="{}", help="JSON object of extra environment arguments")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    parser.add_argument("--output-dir", default="runs", help="where the result JSON goes (default: %(default)s)")
    parser.add_argument("--run-name", default="", help="file name stem (default: {env}__{agent}__{seed}__{time})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_endpoint_options(parser)
    parser.set_defaults(func=run)


def env_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """The environment arguments the flags ask for (only those set, so env defaults stay visible as defaults)."""
    kwargs: dict[str, Any] = {"scorer": args.scorer} if args.scorer else {}
    scorer_kwargs = json_object(args.scorer_kwargs, "--scorer-kwargs")
    if scorer_kwargs:
        kwargs["scorer_kwargs"] = scorer_kwargs
    if args.max_sessions is not None:
        kwargs["max_sessions"] = args.max_sessions
    if args.chunks_per_session is not None:
        kwargs["chunks_per_session"] = args.chunks_per_session
    if args.data_path is not None:
        kwargs["data_path"] = args.data_path
    if args.include_adversarial:
        kwargs["include_adversarial"] = True
    served = endpoint_env_kwargs(args)  # --answerer / --judge / --max-questions
    if "scorer_kwargs" in served:
        served["scorer_kwargs"] = {**served["scorer_kwargs"], **kwargs.get("scorer_kwargs", {})}
    kwargs.update(served)
    kwargs.update(json_object(args.env_kwargs, "--env-kwargs"))
    return kwargs


def agent_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    kwargs = json_object(args.agent_kwargs, "--agent-kwargs")
    for name in ("model", "backend"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    kwargs.update(endpoint_agent_kwargs(args))
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
    import gymnasium as gym
    from tqdm import tqdm

    import memenv  # noqa: F401  (registers the env ids)
    from agents.registry import make_agent
    from agents.rollout import run_episode
    from memenv.scoring.base import QARecord, summarize

    start = time.perf_counter()
    env_kwargs = env_kwargs_from(args)
    agent_kwargs = agent_kwargs_from(args)
    env = gym.make(args.env, **env_kwargs)
    agent = make_agent(args.agent, **agent_kwargs)
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
    result = evaluate(args)
    path = write_result(result, args.output_dir)
    print_table(result)
    print_judge(result)
    print(f"wrote {path}")
    return 0
