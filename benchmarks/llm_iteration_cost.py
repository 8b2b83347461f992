"""CPU cost of one LoGo-GRPO iteration of the LLM manager, before and after the CPU options of issue 20.

Manager-only (the reference agent extracts), Synthetic-v1, n=2 rollouts, m=2 rerollouts (p=1), 2 sessions, one
thread, SmolLM2. Each setting runs ``--repeats`` iterations of a fresh trainer and reports the process CPU seconds
of the iteration and their share: generation (``policy.act``: rollouts and rerollouts), log-prob forward
(``policy.evaluate`` in the update) and backward (``accelerator.backward``), the rest (env, estimator, optimiser).

* ``before``: line format, few-shot prompts, fp32 base, LoRA r=16, max_completion_length 96;
* ``after``: compact codes, terse prompts, bf16 base + fp32 LoRA r=16, max_completion_length 24.

Usage: ``nice -n 10 python benchmarks/llm_iteration_cost.py [--model smollm2] [--repeats 1]`` (minutes per setting).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from typing import Any

import torch

from algorithms.config import TrainerConfig
from algorithms.trainer import Trainer

SETTINGS = {
    "before": dict(action_format="line", prompt_style="fewshot", llm_dtype="float32", max_completion_length=96),
    "after": dict(action_format="compact", prompt_style="terse", llm_dtype="bfloat16", max_completion_length=24),
}


def _timed(owner: Any, name: str, bucket: str, spent: dict[str, float]) -> None:
    """Wrap ``owner.name`` so that the process CPU time of each call is added to ``spent[bucket]``."""
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[bucket] += time.process_time() - start

    setattr(owner, name, wrapper)


def measure(model: str, setting: dict[str, Any], seed: int) -> dict[str, Any]:
    config = TrainerConfig(
        policy="llm", model=model, env_id="MemoryR2/Synthetic-v1", estimator="logo", curriculum=[2], iterations=1,
        num_generations=2, local_num_generations=2, local_prob=1.0, conversations_per_iteration=1,
        scripted_role="extractor", scripted_agent="reference", lora_r=16, learning_rate=1e-4,
        gradient_checkpointing=False, eval_seeds=[100000], test_seeds=[], seed=seed, torch_threads=1, **setting,
    )
    trainer = Trainer(config)
    spent: dict[str, float] = defaultdict(float)
    _timed(trainer.policy.policy, "act", "generation", spent)  # the LLM's own steps (not the scripted extractor's)
    _timed(trainer.policy, "evaluate", "logprob_forward", spent)
    _timed(trainer.accelerator, "backward", "backward", spent)
    start = time.process_time()
    metrics = trainer.iteration(2)
    total = time.process_time() - start
    spent["other"] = total - sum(spent.values())
    return {
        "cpu_s": round(total, 2), "share": {k: round(v / total, 3) for k, v in spent.items()},
        "cpu_s_by_part": {k: round(v, 2) for k, v in spent.items()}, "rows": metrics["rollout/rows"],
        "completion_tokens_per_s": round(metrics["perf/tokens_per_s"], 1),
        "parse_failure_rate": metrics["rollout/parse_failure_rate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: the tiny random model")
    args = parser.parse_args()
    if args.quick:
        args.model = "tiny"
    torch.set_num_threads(1)
    out = {name: [measure(args.model, SETTINGS[name], seed) for seed in range(args.repeats)] for name in args.settings}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
