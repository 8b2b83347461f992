"""``memr2 envs``: list the registered environment ids with a one-line description each.

Example::

    memr2 envs
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "envs",
        help="list the registered memory environments",
        description="List every registered MemoryR2 environment id with a one-line description.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from memenv.registration import describe_envs

    table = Table(title="memory-r2 environments (gymnasium.make(id, **kwargs))")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("description")
    for env_id, description in describe_envs().items():
        table.add_row(env_id, description)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    return 0
