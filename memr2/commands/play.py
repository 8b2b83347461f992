"""``memr2 play``: run an agent for a few episodes and print a per-episode table (no result file).

Example::

    memr2 play --env MemoryR2/Synthetic-v0 --agent oracle --episodes 3 --seed 0
"""

from __future__ import annotations

import argparse

from memr2.commands import add_env_agent_flags, agent_kwargs_from, env_kwargs_from, make_agent, make_env


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play",
        help="run an agent for a few episodes and print a per-episode table",
        description="Run an agent through N episodes (episode i uses seed + i) and print score, memory entries, "
        "tokens, invalid actions and wall time per episode. Use `memr2 eval` to write a result file.",
    )
    add_env_agent_flags(parser, env="MemoryR2/Synthetic-v0", agent="oracle")
    parser.add_argument("--episodes", type=int, default=3, help="number of episodes (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from agents.rollout import run_episode
    from memenv.registration import privileged_kwargs

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    env_kwargs = env_kwargs_from(args)
    agent = make_agent(args.agent, agent_kwargs_from(args))
    if getattr(agent, "privileged", False):  # oracles ask for gold
        env_kwargs = {**privileged_kwargs(args.env), **env_kwargs}
    env = make_env(args.env, env_kwargs)
    table = Table(title=f"{args.env} / {args.agent}")
    for column in ("episode", "seed", "conversation", "score", "return", "entries", "tokens", "invalid", "wall s"):
        table.add_column(column, justify="left" if column == "conversation" else "right", no_wrap=True)
    results = []
    for i in range(args.episodes):
        result = run_episode(env, agent, seed=args.seed + i)
        results.append(result)
        table.add_row(
            str(i), str(result.seed), result.conversation_id, f"{result.score:.3f}", f"{result.total_reward:.3f}",
            str(result.entries), str(result.tokens), str(result.invalid_actions), f"{result.wall_time_s:.2f}",
        )
    env.close()
    n = len(results)
    table.add_section()
    table.add_row(
        "mean", "", "", f"{sum(r.score for r in results) / n:.3f}", f"{sum(r.total_reward for r in results) / n:.3f}",
        f"{sum(r.entries for r in results) / n:.1f}", f"{sum(r.tokens for r in results) / n:.1f}",
        f"{sum(r.invalid_actions for r in results) / n:.1f}", f"{sum(r.wall_time_s for r in results) / n:.2f}",
    )
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    return 0
