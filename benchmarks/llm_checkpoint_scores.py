"""Trained LLM checkpoints against their warm start on conversations of your choosing (issue 20).

A study scores each run once, on its trainer config's test seeds. This replays the warm start (the trainer config's
``init_checkpoint``) and each ``--checkpoint`` the way the trainer tests (``Trainer.make_env`` and
``evaluate_policy``: greedy, at the config's last horizon) on ``--episodes`` conversations from ``--seed``, so a
gain can be checked on conversations no run or choice has seen. Prints a markdown table: each checkpoint's score and
its gain over the warm start, then per estimator (read from the checkpoint's ``config.json``) and pooled the mean
gain with a 95 % Student-t interval over checkpoints.

    python benchmarks/llm_checkpoint_scores.py --config configs/llm-manager-synthetic-v1-last.yaml \
        --checkpoint runs/llm-manager-v3/llm-manager-v3__h4__grpo__seed5/checkpoints/last --seed 300000 --episodes 16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_manager_outputs import checkpoint_parser, quick_setup, write_markdown  # noqa: E402

from algorithms.checkpoint import load_weights  # noqa: E402
from algorithms.config import TrainerConfig  # noqa: E402
from algorithms.rollouts import evaluate_policy  # noqa: E402
from memr2.leaderboard import Markup, table_header, table_row  # noqa: E402
from memr2.stats import t_interval  # noqa: E402


def checkpoint_estimator(directory: Path) -> str:
    """The estimator a checkpoint was trained with (its saved config), or '?' where it has none."""
    path = directory / "config.json"
    return json.loads(path.read_text()).get("estimator", "?") if path.is_file() else "?"


def write_table(args: argparse.Namespace, out) -> None:
    """Score the warm start and every checkpoint on the same conversations; print the table to ``out``."""
    from algorithms.trainer import Trainer

    config = quick_setup(args) if args.quick else TrainerConfig.from_file(args.config)
    trainer = Trainer(config, None, progress=False)  # builds the warm start: the policy the trainer starts from
    horizon = config.curriculum[-1]
    seeds = list(range(args.seed, args.seed + args.episodes))

    def score() -> float:
        return evaluate_policy(trainer.make_env(horizon), seeds, trainer.policy, trainer.eval_generator)["score"]

    start = score()
    print(f"{config.env_id}, {horizon} sessions, seeds {seeds[0]}-{seeds[-1]} ({len(seeds)} conversations), greedy\n",
          file=out)
    print("\n".join(table_header(["policy", "estimator", "score", "- warm start"])), file=out)
    print(table_row(["warm start", "-", f"{start:.3f}", "-"]), file=out)
    gains: dict[str, list[float]] = {}
    for name in args.checkpoint:
        directory = Path(name)
        load_weights(directory, trainer.policy.model)  # strict: replaces every weight the previous one set
        value, estimator = score(), checkpoint_estimator(directory)
        gains.setdefault(estimator, []).append(value - start)
        # the names come from the checkpoint's folder and config.json: escaped, so they cannot forge a row
        print(table_row([f"{directory.parent.parent.name}/{directory.name}", str(estimator), f"{value:.3f}",
                         f"{value - start:+.3f}"]), file=out)
    groups = {**gains, **({"pooled": [g for v in gains.values() for g in v]} if len(gains) > 1 else {})}
    print("\n" + "\n".join(table_header(["estimator", "checkpoints", "mean gain over the warm start [95 % t CI]"])),
          file=out)
    for estimator, values in groups.items():
        if len(values) > 1:
            mean, low, high = t_interval(values)
            cell = Markup(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]")  # this script's own numbers: not escaped
        else:
            cell = f"{values[0]:+.3f}"
        print(table_row([str(estimator), str(len(values)), cell]), file=out)


def main(argv: list[str] | None = None) -> None:
    parser = checkpoint_parser(__doc__)
    parser.add_argument("--seed", type=int, default=300000, help="first conversation's seed")
    parser.add_argument("--episodes", type=int, default=16, help="conversations to score on")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run on 2 conversations: the tiny random model and a perturbed copy as 'trained'")
    args = parser.parse_args(argv)
    if args.config is None and not args.quick:
        parser.error("--config is required (or --quick)")
    if args.quick:
        args.episodes = 2
    write_markdown(args, "llm_checkpoint_scores.py", argv, write_table)


if __name__ == "__main__":
    main()
