"""``memr2 sft``: a warm start for the LLM agent by supervised fine-tuning on a teacher's actions.

The teacher (``reference`` by default: no gold) plays training seeds; the LLM learns to write its actions in the
env's own action format (``--action-format compact|line``) from the agent's own prompts, with a cross-entropy
loss on the completion tokens only (:mod:`algorithms.sft`). ``--output DIR`` then holds a model directory
(adapters merged) and ``sft.json`` (config, losses, greedy agreement with the teacher, weights hash,
provenance). Start RL from it with ``memr2 train --init-checkpoint DIR`` and score it alone with
``memr2 eval --agent llm --model DIR`` (docs/llm-training.md).
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from memr2.commands import command_line, json_object


def register(subparsers: argparse._SubParsersAction) -> None:
    from algorithms.sft_config import SFTConfig

    parser = subparsers.add_parser(
        "sft",
        help="warm-start the LLM agent: fine-tune it on a teacher agent's actions",
        description="Roll out a teacher agent on training seeds, fine-tune the LLM on its actions (completion tokens "
        "only) and write a model directory that memr2 eval --model and memr2 train --init-checkpoint load.",
    )
    parser.add_argument("--output", required=True, help="directory to write the fine-tuned model and sft.json into")
    parser.add_argument("--overwrite", action="store_true", help="replace a warm start already in --output")
    for name, field in SFTConfig.model_fields.items():
        flag = f"--{name.replace('_', '-')}"
        spec: dict[str, typing.Any] = {"dest": name, "default": None, "help": f"{field.description} (default: {field.default if field.default_factory is None else '{}'})"}
        kind = field.annotation
        options = [t for t in typing.get_args(kind) if t is not type(None)]
        if typing.get_origin(kind) is typing.Literal:
            spec["choices"] = list(typing.get_args(kind))
        elif name == "env_kwargs":
            spec.update(type=lambda text: json_object(text, "--env-kwargs"), metavar="JSON")
        else:
            spec["type"] = options[0] if options else kind
        parser.add_argument(flag, **spec)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (loaded first: its threads are set and its CPU kernel level recorded)

    from algorithms.sft_config import RECORD_NAME, SFTConfig
    from memr2.runtime import limit_threads, provenance

    config = SFTConfig(**{name: getattr(args, name) for name in SFTConfig.model_fields if getattr(args, name) is not None})
    output = Path(args.output)
    if output.is_dir() and any(output.iterdir()) and not args.overwrite:
        what = "a warm start" if (output / RECORD_NAME).exists() else "files"
        raise ValueError(f"{output} already holds {what}; pass --overwrite to replace it")
    limit_threads(config.torch_threads)
    origin = provenance(command_line(args), config.torch_threads)
    from algorithms.sft import run_sft

    def progress(epoch: int, loss: float) -> None:
        print(f"epoch {epoch}/{config.epochs}: mean completion-token loss {loss:.4f}", flush=True)

    record = run_sft(config, output, origin, progress)
    print(f"{record.examples} examples ({record.completion_tokens} completion tokens) from {config.teacher} on "
          f"{config.env_id}, {config.episodes} episodes x {config.max_sessions} sessions")
    print(f"loss {record.loss_before:.4f} -> {record.loss_after:.4f} (per epoch: "
          + ", ".join(f"{x:.4f}" for x in record.loss_history) + ")")
    print(f"greedy completions equal to the teacher's: {record.greedy_match_before:.3f} -> {record.greedy_match_after:.3f}")
    print(f"wrote {output} (weights sha256 {record.weights_sha256[:12]}, {record.wall_time_s:.0f} s)")
    return 0
