"""``memr2``: one entry point, one module per sub-command under ``memr2/commands/``.

Each command module defines ``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
Command modules are imported lazily when possible so ``memr2 envs`` does not pay for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from memr2 import __version__
from memr2.commands import check_spec_sources

COMMANDS = ("envs", "play", "eval", "sft", "train", "study", "verify", "verify-reveal", "leaderboard", "data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memr2",
        description="Multi-session memory environments, memory agents and LoGo-GRPO trainers (Memory-R2).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"memr2.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"memr2.commands.{name.replace('-', '_')}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in result files as the exact command
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_spec_sources(args)
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"memr2 {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's status for SIGINT (commands save what they can first)
        print(f"memr2 {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
