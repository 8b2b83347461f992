"""SmolLM2 end to end: load times, one LoCoMo dev conversation (2 sessions) through ``LLMAgent``, throughput.

Prints one JSON object with, from this one run:

* ``first_load_s`` (GGUF -> dequantise -> safetensors cache, into a fresh cache dir) and ``cached_load_s``;
* ``rollout_tokens_per_s``: tokens the agent generated / wall time of its ``act`` calls (prompt rendering,
  sampling with recorded log-probs, decoding, parsing), batch 1 as in an episode;
* ``raw_generate_tokens_per_s``: ``model.generate`` on the *same prompt ids*, forced to the same number of new
  tokens (``min_new_tokens = max_new_tokens``), same temperature, batch 1, run right after each step (the two
  alternate, so load from other jobs affects both alike) -- and their ratio;
* ``parse_failure_rate`` per role, ``memory`` (entries, tokens), the env's ``recall`` score and the ``llm``
  scorer's LoCoMo F1 (SmolLM2 answering from the final bank), ``logprob_max_abs_diff`` (recorded vs recomputed).

Usage: ``python benchmarks/smollm2_rollout.py [--max-new-tokens 256] [--conversation conv-26] [--no-llm-scorer] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import gymnasium as gym
import torch

import memenv  # noqa: F401  (registers the env ids)
from agents.llm import LLMAgent, LLMAnswerer
from agents.llm.hf import TransformersBackend
from agents.llm.loading import load_model
from memenv.actions import ParseError, parse_action
from memenv.scoring.base import summarize
from memenv.scoring.llm import LLMScorer


def timed_loads(cache: str | None) -> tuple[float | None, float, Any]:
    """``(first_load_s or None, cached_load_s, (model, tokenizer, name))``; ``cache=None`` keeps the user cache."""
    first = None
    if cache is not None:
        os.environ["MEMR2_CACHE_DIR"] = cache
        start = time.perf_counter()
        load_model("smollm2")
        first = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_model("smollm2")
    return first, time.perf_counter() - start, loaded


def raw_generate(model, tokenizer, prompt: list[int], n: int, temperature: float) -> tuple[int, float]:
    """``(new tokens, seconds)`` of plain ``model.generate`` on ``prompt``, forced to exactly ``n`` new tokens."""
    ids = torch.tensor([prompt])
    start = time.perf_counter()
    out = model.generate(
        ids, attention_mask=torch.ones_like(ids), do_sample=temperature > 0, temperature=temperature or None,
        top_k=0, top_p=1.0, min_new_tokens=n, max_new_tokens=n, pad_token_id=tokenizer.pad_token_id,
    )
    return out.shape[1] - ids.shape[1], time.perf_counter() - start


def measure(
    conversation: str = "conv-26",
    max_sessions: int = 2,
    max_new_tokens: int = 256,
    temperature: float = 0.7,
    seed: int = 0,
    fresh_cache: bool = True,
    llm_scorer: bool = True,
) -> dict[str, Any]:
    """Run everything once and return the numbers (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        first, cached, (model, tokenizer, name) = timed_loads(tmp if fresh_cache else None)
    backend = TransformersBackend(model, tokenizer, name)
    agent = LLMAgent(backend, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=max_sessions)
    observation, info = env.reset(seed=seed, options={"conversation": conversation})
    terminated, act_seconds, raw_tokens, raw_seconds, steps, valid_or_penalized = False, 0.0, 0, 0.0, [], True
    while not terminated:
        role = info["role"]
        start = time.perf_counter()
        text = agent.act(observation, info)
        act_seconds += time.perf_counter() - start
        # right after each step, so that both see the same machine load (other jobs share these cores)
        record = agent.records[-1]
        tokens, seconds = raw_generate(model, tokenizer, record.prompt_ids, len(record.completion_ids), temperature)
        raw_tokens, raw_seconds = raw_tokens + tokens, raw_seconds + seconds
        observation, reward, terminated, _, info = env.step(text)
        print(f"step {len(steps) + 1}: {role}, {len(agent.records[-1].completion_ids)} tokens", file=sys.stderr)
        invalid = isinstance(parse_action(role, text), ParseError)
        valid_or_penalized &= (not invalid) or ("error" in info)
        steps.append({"role": role, "text": text, "error": info.get("error")})
    records = agent.records
    generated = sum(len(r.completion_ids) for r in records)
    raw_rate = raw_tokens / raw_seconds
    with torch.no_grad():
        recomputed, mask = agent.logprobs(records, batch_size=2)
    recorded, _ = agent.recorded_logprobs(records)
    result: dict[str, Any] = {
        "model": name,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
        "first_load_s": first,
        "cached_load_s": cached,
        "steps": len(steps),
        "generated_tokens": generated,
        "prompt_tokens_mean": sum(len(r.prompt_ids) for r in records) / len(records),
        "rollout_tokens_per_s": generated / act_seconds,
        "raw_generate_tokens_per_s": raw_rate,
        "rollout_vs_raw": generated / act_seconds / raw_rate,
        "parse_failure_rate": {role: stats.parse_failure_rate for role, stats in agent.stats.items()},
        "valid_or_penalized": valid_or_penalized,
        "invalid_actions": env.unwrapped.invalid_actions,
        "memory": {"entries": len(env.unwrapped.bank), "tokens": env.unwrapped.bank.tokens},
        "recall_score": info["metrics"]["score"],
        "logprob_max_abs_diff": float(((recomputed - recorded).abs() * mask).max()),
        "logprob_max_abs_diff_per_step": ((recomputed - recorded).abs() * mask).max(dim=1).values.tolist(),
        "steps_detail": steps,
    }
    if llm_scorer:
        scorer = LLMScorer(LLMAnswerer(backend, max_new_tokens=24), cache_dir=False)
        start = time.perf_counter()
        scored = summarize(scorer.score(env.unwrapped.conversation.questions, env.unwrapped.bank))
        result["llm_f1"] = scored["score"]
        result["llm_questions"] = scored["count"]
        result["llm_scorer_s"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversation", default="conv-26")
    parser.add_argument("--max-sessions", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-cache", action="store_true", help="use the user cache (no first-load timing)")
    parser.add_argument("--no-llm-scorer", action="store_true", help="skip answering the questions with SmolLM2")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 session, 16 new tokens, the user cache, "
                        "no LLM scorer")
    args = parser.parse_args()
    if args.quick:
        args.max_sessions, args.max_new_tokens, args.keep_cache, args.no_llm_scorer = 1, 16, True, True
    result = measure(
        args.conversation, args.max_sessions, args.max_new_tokens, args.temperature, args.seed,
        fresh_cache=not args.keep_cache, llm_scorer=not args.no_llm_scorer,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
