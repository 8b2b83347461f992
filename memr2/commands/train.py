"""``memr2 train``: train a memory policy with GRPO, global-only or LoGo-GRPO and write a result JSON.

Example (FeaturePolicy, LoGo-GRPO, 8-session Synthetic-v1, a few CPU minutes)::

    memr2 train --env MemoryR2/Synthetic-v1 --estimator logo --policy feature --curriculum 8 --iterations 30

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
from memr2.commands import (
    add_scorer_flags, add_trust_flag, command_line, json_object, merge_env_kwargs, scorer_kwargs_from,
)
from memr2.results import CurvePoint, Metrics, MemoryStats, RunResult, slug, write_result
from memr2.run_dir import claim_run_dir
from memr2.runtime import limit_threads, provenance

FLAG_ALIASES = {"env_id": ["--env"]}  # short names users already type


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`~algorithms.config.TrainerConfig` field, generated from the dataclass: the help is the
    field's own help string, choices come from its ``Literal`` type, and every default is ``None`` ("not given":
    the config file's or the dataclass's value stays)."""
    import dataclasses
    import types
    import typing

    from algorithms.config import TrainerConfig

    hints = typing.get_type_hints(TrainerConfig)
    group = parser.add_argument_group("TrainerConfig fields (flags override --config)")
    defaults = TrainerConfig.defaults()
    for field in dataclasses.fields(TrainerConfig):
        kind = hints[field.name]
        options = [t for t in typing.get_args(kind) if t is not type(None)]
        if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(options) == 1:  # X | None
            kind = options[0]
        spec: dict[str, Any] = {"dest": field.name, "default": None,
                                "help": f"{field.metadata['help']} (default: {defaults[field.name]})"}
        if typing.get_origin(kind) is typing.Literal:
            spec.update(choices=list(typing.get_args(kind)))
        elif kind is bool:
            spec.update(action=argparse.BooleanOptionalAction)
        elif kind is list:
            spec.update(nargs="+", type=int)
        elif kind is dict:
            spec.update(type=lambda text, flag=field.name: json_object(text, f"--{flag.replace('_', '-')}"), metavar="JSON")
        else:
            spec.update(type=kind)
        group.add_argument(f"--{field.name.replace('_', '-')}", *FLAG_ALIASES.get(field.name, []), **spec)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a memory policy (GRPO / global / LoGo-GRPO) and write a result JSON",
        description="Train with one of the estimators over a curriculum of horizons; flags override --config.",
    )
    parser.add_argument("--config", help="YAML / TOML / JSON file of TrainerConfig fields")
    parser.add_argument("--resume", help="continue the run in this output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in --output-dir (default: refuse a directory holding a run)")
    parser.add_argument("--output-dir", help="run directory (default: runs/{env}__{estimator}__{seed}__{time})")
    parser.add_argument("--results-dir", help="also write the result JSON here (e.g. leaderboards/results)")
    parser.add_argument("--run-name", default="", help="result file stem (default: the run directory's name)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_trust_flag(parser)
    env_flags = parser.add_argument_group("env flags shared with play / eval (merged into env_kwargs)")
    add_scorer_flags(env_flags)
    env_flags.add_argument("--max-sessions", type=int, default=None, metavar="N",
                           help="train at one horizon of N sessions: the same as --curriculum N (give one of them)")
    add_config_arguments(parser)
    parser.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> Any:
    """The TrainerConfig: ``--resume``'s saved config, else ``--config`` or defaults, with flags applied."""
    import dataclasses

    from algorithms.config import TrainerConfig

    if getattr(args, "max_sessions", None) is not None:
        if args.curriculum is not None:
            raise ValueError("--max-sessions N is --curriculum N (one horizon of N sessions); give one of them")
        args.curriculum = [args.max_sessions]
    overrides: dict[str, Any] = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainerConfig)}
    if args.resume:
        saved = Path(args.resume) / "config.json"
        if not saved.is_file():
            raise FileNotFoundError(f"--resume {args.resume}: no config.json there (is it a memr2 train run directory?)")
        config = TrainerConfig.from_file(saved, **overrides)
    elif args.config:
        config = TrainerConfig.from_file(args.config, **overrides)
    else:
        config = TrainerConfig.from_dict({k: v for k, v in overrides.items() if v is not None})
    scorer = scorer_kwargs_from(args) if hasattr(args, "scorer") else {}
    if not scorer:
        return config
    return dataclasses.replace(config, env_kwargs=merge_env_kwargs(scorer, config.env_kwargs, "env_kwargs"))


def build_result(
    config: Any, trainer: Any, final: dict[str, Any], wall_time_s: float, run_name: str, test: dict[str, Any] | None = None,
    origin: dict[str, Any] | None = None, final_test: dict[str, Any] | None = None,
) -> RunResult:
    """The result JSON of a training run (final = validation of the chosen policy, test = it on the test seeds,
    final_test = the last iteration's policy on them, origin = :func:`memr2.runtime.provenance` taken when the run
    started, before its code could change under it); ``train.diagnostics`` holds the first and last iterations'
    group-variance, UPDATE-hit and entropy means, ``train.optimizer_updates`` the optimizer steps taken."""
    from algorithms.metrics import diagnostics_summary

    state = trainer.state
    initial = state.initial_metrics
    records = trainer.logger.records()
    updates = sum("losses/grad_norm" in r for r in records) * config.num_iterations
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
        **(origin or provenance(None, config.torch_threads)),
        estimator=config.estimator,
        config=config.to_dict(),
        initial_metrics=Metrics.model_validate(initial),
        curve=[CurvePoint(iteration=p["iteration"], env_steps=p["env_steps"], score=p["score"]) for p in state.curve],
        train={"iterations": state.global_step, "env_steps": state.env_steps, "optimizer_updates": updates,
               "estimator_name": trainer.estimator.name,
               "curve": state.curve, "initial_return": initial["return"], "final_return": final["return"],
               "diagnostics": diagnostics_summary(records),
               **({"test_return": test["return"], "test_episode_scores": test["episode_scores"]} if test else {})},
        privileged=trainer.scripted_privileged,  # a scripted role played from gold (the restricted oracle)
        test_seeds=list(config.test_seeds) if test else [],
        test_metrics=Metrics.model_validate(test) if test else None,
        final_test_metrics=Metrics.model_validate(final_test) if final_test else None,
    )


def run(args: argparse.Namespace) -> int:
    import os

    import torch  # noqa: F401  (loaded first: its threads are set and its CPU kernel level recorded)

    start = time.perf_counter()
    config = resolve_config(args)
    from algorithms.estimators import get_estimator

    get_estimator(config.estimator, config.estimator_kwargs)  # a typo fails here, before any directory is made
    limit_threads(config.torch_threads)
    args.origin = provenance(command_line(args), config.torch_threads)  # the code as it is when the run starts
    if args.resume:
        output_dir = Path(args.resume)
    elif args.output_dir:
        output_dir = Path(args.output_dir)
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        output_dir = Path("runs") / f"{slug(config.env_id)}__{config.estimator}__{config.seed}__{stamp}"
    if int(os.environ.get("RANK", "0")) != 0:  # DDP: rank 0 holds the directory; the others only train
        return train(args, config, output_dir, start)
    with claim_run_dir(output_dir, resume=bool(args.resume), overwrite=args.overwrite):
        return train(args, config, output_dir, start)


def train(args: argparse.Namespace, config: Any, output_dir: Path, start: float) -> int:
    """Train into ``output_dir`` (already claimed) and write the result (main process)."""
    from algorithms.trainer import Trainer

    trainer = Trainer(config, output_dir, progress=not args.no_progress)
    resumed_wall = 0.0
    if args.resume:
        trainer.resume(output_dir)
        resumed_wall = trainer.state.wall_time_s  # time the earlier processes spent
    final = trainer.train()
    if not trainer.accelerator.is_main_process:
        return 0
    test = trainer.test()
    # without load_best_model_at_end the tested policy is the final iterate: the same weights, not a second eval
    final_test = trainer.test_final_iterate() if config.load_best_model_at_end else test
    # wall time over every process that ran this training (a resumed run counts its earlier part)
    wall = resumed_wall + (time.perf_counter() - start)
    result = build_result(config, trainer, final, wall, args.run_name or output_dir.name, test, args.origin, final_test)
    paths = [write_result(result, output_dir)]
    if args.results_dir:
        paths.append(write_result(result, args.results_dir))
    initial = trainer.state.initial_metrics["score"]
    print(f"score {initial:.3f} -> {final['score']:.3f} on held-out seeds {config.eval_seeds} "
          f"({config.estimator}, {trainer.state.global_step} iterations, {result.wall_time_s:.0f}s)")
    if test:
        print(f"test score {test['score']:.3f} (return {test['return']:.3f}) on test seeds {config.test_seeds}; "
              f"the last iteration's policy: {final_test['score']:.3f}")
    for path in paths:
        print(f"result: {path}")
    return 0
