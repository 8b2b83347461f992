"""``memr2 eval`` options for models behind OpenAI-compatible servers (agent, answerer, judge), question limits,
the ETA printed before an LLM run, and the usage block of the result file.

Example (a llama.cpp or vLLM server on port 8000)::

    memr2 eval --agent llm --backend openai --model smollm2 --base-url http://127.0.0.1:8000/v1 \\
        --answerer smollm2 --judge smollm2 --max-sessions 2 --max-questions 10
"""

from __future__ import annotations

import argparse
import time
from typing import Any

OPENAI_FACTORY = "agents.llm.openai_backend:make_openai_answerer"


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    """The flags of this module, in one argument group."""
    group = parser.add_argument_group("model servers (OpenAI-compatible: vLLM, llama.cpp, Ollama, hosted APIs)")
    group.add_argument("--base-url", default=None,
                       help="server URL up to /v1, for --backend openai, --answerer and --judge")
    group.add_argument("--api-key-env", default=None,
                       help="environment variable holding the API key (default: MEMR2_OPENAI_API_KEY, then "
                            "OPENAI_API_KEY; local servers need none). The key is never written anywhere")
    group.add_argument("--answerer", default=None, metavar="MODEL",
                       help="served model that answers the questions from memory (selects the llm scorer)")
    group.add_argument("--judge", default=None, metavar="MODEL",
                       help="served model that judges the answers CORRECT/WRONG (J); needs --answerer")
    group.add_argument("--no-judge-cache", action="store_true",
                       help="ask the judge again for every verdict instead of reusing cached ones (the fresh "
                       "verdicts replace them in the cache)")
    group.add_argument("--judge-rubrics", nargs="+", default=["mem0", "strict"], metavar="RUBRIC",
                       help="judge prompts, each reported as its own J (default: %(default)s)")
    group.add_argument("--max-concurrency", type=int, default=8, help="requests in flight (default: %(default)s)")
    group.add_argument("--request-timeout", type=float, default=120.0,
                       help="seconds per attempt: to connect, per read, and for the whole reply once its headers came "
                            "(a trickling server is cut too); a request is abandoned after (retries + 1) x this + "
                            "8 s per retry (default: %(default)s)")
    group.add_argument("--max-retries", type=int, default=4,
                       help="retries on 429/5xx/timeouts, with exponential backoff (default: %(default)s)")
    group.add_argument("--price-input", type=float, default=None, metavar="USD",
                       help="USD per million prompt tokens, to report cost")
    group.add_argument("--price-output", type=float, default=None, metavar="USD",
                       help="USD per million completion tokens, to report cost")
    group.add_argument("--max-questions", type=int, default=None,
                       help="score only the first N questions of each conversation (bounds answerer/judge cost)")


def endpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    """The EndpointConfig fields the flags set (only those differing from the defaults, to keep results short)."""
    options = {
        "api_key_env": args.api_key_env,
        "max_concurrency": args.max_concurrency,
        "timeout_s": args.request_timeout,
        "max_retries": args.max_retries,
        "price_input_per_mtok": args.price_input,
        "price_output_per_mtok": args.price_output,
    }
    defaults = {"max_concurrency": 8, "timeout_s": 120.0, "max_retries": 4}
    return {k: v for k, v in options.items() if v is not None and defaults.get(k) != v}


def endpoint_env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Environment arguments for ``--answerer/--judge/--max-questions`` (merged over ``--scorer-kwargs``)."""
    kwargs: dict[str, Any] = {}
    if args.max_questions is not None:
        kwargs["max_questions"] = args.max_questions
    if args.judge and not args.answerer:
        raise ValueError("--judge needs --answerer (the judge grades the answerer's answers)")
    if getattr(args, "no_judge_cache", False) and not args.judge:
        raise ValueError("--no-judge-cache needs --judge (with --scorer-kwargs, set \"judge_cache\": false there)")
    if not args.answerer:
        return kwargs
    if args.scorer not in (None, "llm"):
        raise ValueError(f"--answerer uses the llm scorer; drop --scorer {args.scorer}")
    served = {"base_url": args.base_url, "progress": not args.no_progress, **endpoint_options(args)}
    scorer_kwargs: dict[str, Any] = {"answerer": OPENAI_FACTORY, "answerer_kwargs": {"model": args.answerer, **served}}
    if args.judge:
        scorer_kwargs.update(
            judge=OPENAI_FACTORY,
            judge_kwargs={"model": args.judge, "judge": True, **served},
            judge_rubrics=list(args.judge_rubrics),
            **({"judge_cache": False} if args.no_judge_cache else {}),
        )
    return {"scorer": "llm", "scorer_kwargs": scorer_kwargs, **kwargs}


def endpoint_agent_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Agent arguments for ``--backend openai`` (base URL and endpoint options)."""
    if args.backend != "openai":
        return {}
    options = {"progress": False, **endpoint_options(args)}  # the eval bar already counts steps
    return {"base_url": args.base_url, "endpoint": options}


def usage_by_role(agent: Any, scorer: Any) -> dict[str, dict[str, Any]]:
    """``{"agent"|"answerer"|"judge": usage}`` for every part that talked to a model server."""
    parts = {
        "agent": getattr(getattr(agent, "backend", None), "usage", None),
        "answerer": getattr(getattr(scorer, "answerer", None), "usage", None),
        "judge": getattr(getattr(scorer, "judge", None), "usage", None),
    }
    cached = scorer.cache_hits() if callable(getattr(scorer, "cache_hits", None)) else {}
    return {role: {**usage.as_dict(), **({"cached": cached[role]} if role in cached else {})}
            for role, usage in parts.items() if usage is not None}


def planned_questions(env: Any, plan: list[tuple[int, dict[str, Any], int | None]]) -> int | None:
    """Questions the run will score (after --max-sessions and --max-questions), when the env lists them."""
    core = env.unwrapped
    known = {c.conversation_id: c for c in getattr(core, "conversations", ())}
    total = 0
    for _seed, options, _steps in plan:
        conversation = known.get(options.get("conversation"))
        if conversation is None:
            return None
        questions = conversation.truncated(core.max_sessions).questions
        total += len(questions) if core.max_questions is None else min(len(questions), core.max_questions)
    return total


def estimate_eta(agent: Any, steps: int, probe_tokens: int = 16) -> tuple[float, float] | None:
    """``(tokens per second, upper bound in seconds)`` for ``steps`` LLM-agent steps, measured by generating
    ``probe_tokens`` tokens once (greedy). None for agents that are not LLM agents."""
    backend, sampling = getattr(agent, "backend", None), getattr(agent, "sampling", None)
    if backend is None or sampling is None:
        return None
    from agents.llm.backend import ChatBackend, SamplingConfig

    probe = SamplingConfig(temperature=0.0, max_new_tokens=probe_tokens)
    messages = [{"role": "user", "content": "Count from one to twenty in words."}]
    start = time.perf_counter()
    if isinstance(backend, ChatBackend):
        (reply,) = backend.generate_chat([messages], probe, seed=0)
        generated = reply.completion_tokens or len(reply.tokens) or probe_tokens
    else:
        text = backend.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        (sample,) = backend.generate([backend.tokenizer(text, add_special_tokens=False)["input_ids"]], probe, seed=0)
        generated = max(len(sample.token_ids), 1)
    rate = generated / max(time.perf_counter() - start, 1e-6)
    return rate, steps * sampling.max_new_tokens / rate


def print_plan(agent: Any, env: Any, plan: list[tuple[int, dict[str, Any], int | None]], args: argparse.Namespace) -> None:
    """Before an LLM agent starts: what will run and how long it may take, and how to make it shorter."""
    steps = sum(s for *_, s in plan if s)
    estimate = estimate_eta(agent, steps) if steps else None
    if estimate is None:
        return
    rate, upper = estimate
    questions = planned_questions(env, plan)
    asked = f", then {questions} questions" if questions is not None else ""
    print(
        f"plan: {len(plan)} conversation(s), {steps} agent steps{asked}. Measured {rate:.1f} tokens/s, so the agent "
        f"takes at most ~{upper / 60:.1f} min ({agent.sampling.max_new_tokens} new tokens per step); most steps stop "
        "earlier. Shorten with --max-sessions, --max-questions, --conversations.",
        flush=True,
    )
