"""``memr2 train``: train a memory policy with GRPO, global-only or LoGo-GRPO and write a result JSON.

Example (FeaturePolicy, LoGo-GRPO, 8-session Synthetic-v0, a few CPU minutes)::

    memr2 train --env MemoryR2/Synthetic-v0 --estimator logo --policy feature --curriculum 8 --iterations 30

Defaults come from :class:`algorithms.config.TrainerConfig` (or ``--config FILE``); flags override them. The
output directory holds ``config.json``, ``metrics.jsonl`` (one line per iteration), ``checkpoints/`` and the
result JSON; ``--resume DIR`` continues an interrupted run in ``DIR``. Runs under DDP as is, e.g. two CPU
processes (gloo): ``accelerate launch --multi_gpu --num_processes 2 -m memr2 train ...`` (accelerate's ``--cpu``
flag launches a single process) or ``torchrun --nproc_per_node 2 -m memr2 train ...``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from memr2 import __version__
from memr2.results import CurvePoint, Metrics, MemoryStats, RunResult, git_commit, write_result

# flag -> TrainerConfig field (None values are "not given": the config's value stays)
OVERRIDES = {
    "env": "env_id", "estimator": "estimator", "policy": "policy", "model": "model", "backend": "backend",
    "iterations": "iterations", "seed": "seed", "curriculum": "curriculum", "num_generations": "num_generations",
    "local_num_generations": "local_num_generations", "local_prob": "local_prob", "learning_rate": "learning_rate",
    "loss_type": "loss_type", "beta": "beta", "temperature": "temperature", "eval_every": "eval_every",
    "eval_seeds": "eval_seeds", "conversations_per_iteration": "conversations_per_iteration",
    "max_completion_length": "max_completion_length",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a memory policy (GRPO / global / LoGo-GRPO) and write a result JSON",
        description="Train with one of the estimators over a curriculum of horizons; flags override --config.",
    )
    parser.add_argument("--env", help="environment id (config default: MemoryR2/Synthetic-v0)")
    parser.add_argument("--estimator", choices=["grpo", "global", "logo", "local"], help="advantage estimator")
    parser.add_argument("--policy", choices=["feature", "llm"], help="feature (small torch model) or llm")
    parser.add_argument("--model", help="for --policy llm: tiny | smollm2 | HF id or path")
    parser.add_argument("--backend", help="for --policy llm: transformers")
    parser.add_argument("--iterations", type=int, help="training iterations per curriculum stage")
    parser.add_argument("--seed", type=int, help="trainer seed")
    parser.add_argument("--curriculum", type=int, nargs="+", help="horizons of the stages, e.g. 8 16 32")
    parser.add_argument("--num-generations", type=int, help="n: rollouts per conversation")
    parser.add_argument("--local-num-generations", type=int, help="m: rerollouts per local group")
    parser.add_argument("--local-prob", type=float, help="p: probability a session gets a local group")
    parser.add_argument("--conversations-per-iteration", type=int, help="conversations per iteration and rank")
    parser.add_argument("--learning-rate", type=float, help="AdamW learning rate")
    parser.add_argument("--loss-type", choices=["grpo", "dr_grpo", "dapo"], help="loss normalisation")
    parser.add_argument("--beta", type=float, help="k3 KL coefficient")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument("--max-completion-length", type=int, help="for --policy llm: max new tokens per action")
    parser.add_argument("--eval-every", type=int, help="validate every k iterations")
    parser.add_argument("--eval-seeds", type=int, nargs="+", help="held-out env seeds for validation")
    parser.add_argument("--env-kwargs", help="JSON object of extra environment arguments")
    parser.add_argument("--config", help="YAML / TOML / JSON file of TrainerConfig fields")
    parser.add_argument("--resume", help="continue the run in this output directory")
    parser.add_argument("--output-dir", help="run directory (default: runs/{env}__{estimator}__{seed}__{time})")
    parser.add_argument("--results-dir", help="also write the result JSON here (e.g. leaderboards/results)")
    parser.add_argument("--run-name", default="", help="result file stem (default: the run directory's name)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> Any:
    """The TrainerConfig: ``--resume``'s saved config, else ``--config`` or defaults, with flags applied."""
    from algorithms.config import TrainerConfig

    overrides: dict[str, Any] = {field: getattr(args, flag) for flag, field in OVERRIDES.items()}
    if args.env_kwargs:
        value = json.loads(args.env_kwargs)
        if not isinstance(value, dict):
            raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
        overrides["env_kwargs"] = value
    if args.resume:
        saved = Path(args.resume) / "config.json"
        if not saved.is_file():
            raise FileNotFoundError(f"--resume {args.resume}: no config.json there (is it a memr2 train run directory?)")
        return TrainerConfig.from_file(saved, **overrides)
    if args.config:
        return TrainerConfig.from_file(args.config, **overrides)
    return TrainerConfig.from_dict({k: v for k, v in overrides.items() if v is not None})


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in text)


def build_result(config: Any, trainer: Any, final: dict[str, Any], wall_time_s: float, run_name: str) -> RunResult:
    """DESIGN.md's result JSON for a training run (final = validation of the final policy)."""
    state = trainer.state
    initial = state.initial_metrics
    return RunResult(
        kind="train",
        run_name=run_name,
        env_id=config.env_id,
        env_kwargs={**config.env_kwargs, "max_sessions": config.curriculum[-1]},
        agent=f"{config.policy}-policy",
        model=config.model,
        scorer=trainer.make_env(config.curriculum[-1])().unwrapped.scorer.name,
        seeds=list(config.eval_seeds),
        metrics=Metrics.model_validate(final),
        memory=MemoryStats(entries=final["entries"], tokens=final["tokens"]),
        invalid_actions=final["invalid_actions"],
        wall_time_s=wall_time_s,
        version=__version__,
        commit=git_commit(),
        estimator=config.estimator,
        config=config.to_dict(),
        initial_metrics=Metrics.model_validate(initial),
        curve=[CurvePoint(iteration=p["iteration"], env_steps=p["env_steps"], score=p["score"]) for p in state.curve],
        train={"iterations": state.global_step, "env_steps": state.env_steps, "curve": state.curve,
               "initial_return": initial["return"], "final_return": final["return"]},
    )


def run(args: argparse.Namespace) -> int:
    from algorithms.trainer import Trainer

    start = time.perf_counter()
    config = resolve_config(args)
    if args.resume:
        output_dir = Path(args.resume)
    elif args.output_dir:
        output_dir = Path(args.output_dir)
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        output_dir = Path("runs") / f"{_slug(config.env_id)}__{config.estimator}__{config.seed}__{stamp}"
    trainer = Trainer(config, output_dir, progress=not args.no_progress)
    if args.resume:
        trainer.resume(output_dir)
    final = trainer.train()
    if not trainer.accelerator.is_main_process:
        return 0
    result = build_result(config, trainer, final, time.perf_counter() - start, args.run_name or output_dir.name)
    paths = [write_result(result, output_dir)]
    if args.results_dir:
        paths.append(write_result(result, args.results_dir))
    initial = trainer.state.initial_metrics["score"]
    print(f"score {initial:.3f} -> {final['score']:.3f} on held-out seeds {config.eval_seeds} "
          f"({config.estimator}, {trainer.state.global_step} iterations, {result.wall_time_s:.0f}s)")
    for path in paths:
        print(f"result: {path}")
    return 0
