"""GPU check: the same short episode with the ``transformers`` and ``vllm`` backends; tokens/s and their ratio.

Both run SmolLM2 (or ``--model``) on one LoCoMo dev conversation truncated to ``--max-sessions`` sessions,
then one batched group of ``--group`` rollouts of the first extractor step (``act_batch``, as GRPO generates
a group). Tokens/s = generated tokens / seconds spent in the backend's generate calls. Prints one JSON object.
Run through ``benchmarks/gpu_vllm_check.sh`` on a machine with a CUDA GPU and the ``[vllm]`` extra.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import gymnasium as gym

import memenv  # noqa: F401  (registers the env ids)
from agents.llm import LLMAgent, load_backend


def run_backend(backend_name: str, args: argparse.Namespace) -> dict[str, Any]:
    device = "cuda" if backend_name == "transformers" else None
    start = time.perf_counter()
    backend = load_backend(args.model, backend_name, args.dtype, device)
    load_s = time.perf_counter() - start
    agent = LLMAgent(backend, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)
    env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=args.max_sessions)
    observation, info = env.reset(seed=args.seed, options={"conversation": args.conversation})
    first = (observation, info)
    terminated = False
    while not terminated:
        observation, _, terminated, _, info = env.step(agent.act(observation, info))
    episode = {role: (s.tokens, s.seconds, s.parse_failure_rate) for role, s in agent.stats.items()}
    tokens = sum(t for t, _, _ in episode.values())
    seconds = sum(s for _, s, _ in episode.values())
    start = time.perf_counter()
    agent.act_batch([first[0]] * args.group, [first[1]] * args.group)
    group_seconds = time.perf_counter() - start
    group_tokens = sum(len(r.completion_ids) for r in agent.records[-args.group :])
    return {
        "load_s": load_s,
        "episode_tokens": tokens,
        "episode_tokens_per_s": tokens / seconds,
        "parse_failure_rate": {role: rate for role, (_, _, rate) in episode.items()},
        "group_size": args.group,
        "group_tokens_per_s": group_tokens / group_seconds,
        "recall_score": info["metrics"]["score"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--conversation", default="conv-26")
    parser.add_argument("--max-sessions", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 session, 16 new tokens, a group of 2")
    args = parser.parse_args()
    if args.quick:
        args.max_sessions, args.max_new_tokens, args.group = 1, 16, 2
    results = {name: run_backend(name, args) for name in ("transformers", "vllm")}
    results["vllm_over_transformers"] = {
        key: results["vllm"][key] / results["transformers"][key] for key in ("episode_tokens_per_s", "group_tokens_per_s")
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
