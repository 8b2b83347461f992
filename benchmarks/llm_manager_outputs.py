"""What the LLM manager writes before and after RL, on the same inputs (issue 20).

The teacher (the trainer's ``scripted_agent``, the reference agent) plays one test episode; at each of its first
``--steps`` manager steps the warm start (the trainer config's ``init_checkpoint``) and each trained checkpoint
answer the same view greedily. Prints a markdown table: the facts and memories the manager saw (abridged), the
teacher's compact codes, and each model's raw answer with ``(invalid)`` where the env would reject it.

    python benchmarks/llm_manager_outputs.py --config configs/llm-manager-synthetic-v1.yaml \
        --checkpoint runs/llm/grpo-0/checkpoints/stage0-best --seed 200000 --steps 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import torch

import memenv  # noqa: F401  (registers the envs)
from agents.llm.prompts import render_target
from agents.registry import make_agent
from algorithms.checkpoint import load_weights
from algorithms.config import TrainerConfig
from algorithms.policies import make_policy
from memr2.runtime import limit_threads


def _abridge(text: str, width: int = 60) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def _answer(policy, info) -> str:
    decision = policy.act([info], generator=torch.Generator().manual_seed(0), greedy=True)[0]
    text = decision.sample.text.strip().replace("\n", " ")
    return f"`{text}`" + (" (invalid)" if decision.parse_failed else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the trainer config the runs used")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="DIR",
                        help="a trained checkpoint directory (holds model.safetensors); repeat for several")
    parser.add_argument("--seed", type=int, default=200000, help="the episode's seed (a test seed)")
    parser.add_argument("--steps", type=int, default=5, help="manager steps to show")
    parser.add_argument("--horizon", type=int, default=None, help="sessions (default: the config's last curriculum stage)")
    args = parser.parse_args(argv)
    limit_threads(1)

    config = TrainerConfig.from_file(args.config)
    horizon = args.horizon or config.curriculum[-1]
    models = {"warm start": make_policy(config)}
    for directory in args.checkpoint:
        policy = make_policy(config)
        load_weights(directory, policy.model)
        models[Path(directory).parent.parent.name] = policy

    env = gym.make(config.env_id, **{**config.env_kwargs, "max_sessions": horizon})
    teacher = make_agent(config.scripted_agent)
    observation, info = env.reset(seed=args.seed)
    names = list(models)
    print(f"{config.env_id}, seed {args.seed}, {horizon} sessions; teacher: {config.scripted_agent}; greedy answers\n")
    print("| step | facts shown | memories shown | teacher | " + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    shown, done = 0, False
    while not done and shown < args.steps:
        action = teacher.act(observation, info)
        view = info["view"]
        if view.role == "manager":
            shown += 1
            facts = "<br>".join(f"{f.index}: {_abridge(f.fact)}" for f in view.facts) or "(none)"
            memories = "<br>".join(f"{m.memory_id}: {_abridge(m.content, 40)}" for m in view.memories) or "(empty)"
            answers = [_answer(models[name], info) for name in names]
            target = render_target(view, action, action_format="compact")
            print(f"| s{view.session} | {facts} | {memories} | `{target}` | " + " | ".join(answers) + " |")
        observation, _, done, _, info = env.step(action)


if __name__ == "__main__":
    main()
