"""What the engine routes (docs/engines.md) cost against memory-r2's own loop, on this CPU, one thread.

* OpenEnv: store-all episodes of Synthetic-v1 played over the WebSocket (engines.openenv_server, a loopback
  server in this process) against the same episodes in-process; one fork over HTTP against ``memenv.fork``.
* TRL: ``GRPOTrainer`` steps through engines.trl_recipe against ``memr2 train``'s iterations (collect + update)
  in the same setting: the tiny random model as manager, reference extractor, compact codes, terse prompts,
  Synthetic-v1 at 2 sessions, one conversation x 4 generations per step, 8 answer tokens per turn.
* verifiers (``--verifiers``): ``vf-eval memory-r2`` of store-all through engines.agent_endpoint against
  ``memr2 eval`` of the same episodes (each model turn is a harness program launched by verifiers).

Usage::

    python benchmarks/engines_cost.py [--episodes 10] [--steps 3] [--verifiers] [--quick]

``--quick`` is a smoke run (2 episodes, 1 step, no verifiers; seconds).

Each route needs its extra; a route whose extra is missing is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import memenv  # noqa: F401
from agents.baselines import StoreAll
from agents.rollout import run_episode
from memr2.runtime import limit_threads

ROOT = Path(__file__).resolve().parents[1]


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def openenv_cost(episodes: int, sessions: int = 8) -> None:
    from engines.openenv_client import MemoryEnvClient, fork_session, play
    from engines.openenv_server import build_app
    from engines.serving import serve_in_thread

    start = time.perf_counter()
    local = [run_episode(gym.make("MemoryR2/Synthetic-v1", max_sessions=sessions), StoreAll(), seed=s)
             for s in range(episodes)]
    in_process = time.perf_counter() - start
    steps = sum(e.steps for e in local)
    app = build_app("MemoryR2/Synthetic-v1", {"max_sessions": sessions})
    with serve_in_thread(app) as url, MemoryEnvClient(base_url=url).sync() as env:
        start = time.perf_counter()
        scores = []
        for seed in range(episodes):
            last, _ = play(env, StoreAll(), env.reset(seed=seed, episode_id=f"bench-{seed}"))
            scores.append(last.observation.metrics["score"])
        remote = time.perf_counter() - start
        assert scores == [e.score for e in local], "remote and in-process scores differ"
        env.reset(seed=0, episode_id="bench-fork")
        start = time.perf_counter()
        for _ in range(50):
            fork_session(url, "bench-fork")
        fork_http = (time.perf_counter() - start) / 50
    core = gym.make("MemoryR2/Synthetic-v1", max_sessions=sessions)
    core.reset(seed=0)
    start = time.perf_counter()
    for _ in range(50):
        memenv.fork(core)
    fork_local = (time.perf_counter() - start) / 50
    print(f"openenv   {episodes} store-all episodes x {sessions} sessions ({steps} steps): in-process "
          f"{1e3 * in_process / steps:.2f} ms/step, over the WebSocket {1e3 * remote / steps:.2f} ms/step "
          f"({remote / in_process:.1f}x); fork: memenv.fork {1e3 * fork_local:.3f} ms, HTTP fork {1e3 * fork_http:.2f} ms")


def trl_cost(steps: int) -> None:
    import torch  # noqa: F401
    from trl import GRPOConfig

    from agents.llm.loading import load_model
    from algorithms.config import TrainerConfig
    from algorithms.estimators import build_rows
    from algorithms.trainer import Trainer
    from engines.trl_recipe import RecipeConfig, build_trainer

    config = TrainerConfig(policy="llm", model="tiny", env_id="MemoryR2/Synthetic-v1", curriculum=[2], iterations=steps,
                           num_generations=4, conversations_per_iteration=1, estimator="grpo",
                           max_completion_length=8, eval_seeds=[100000], test_seeds=[], scripted_role="extractor",
                           scripted_agent="reference", action_format="compact", prompt_style="terse",
                           learning_rate=1e-5, temperature=1.0)
    trainer = Trainer(config)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.update(build_rows(trainer.collect(2), trainer.estimator))
    ours = (time.perf_counter() - start) / steps
    model, tokenizer, _ = load_model("tiny", seed=0)
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(output_dir=out, num_generations=4, per_device_train_batch_size=4, max_steps=steps,
                          learning_rate=1e-5, max_completion_length=8, temperature=1.0, logging_steps=1,
                          save_strategy="no", report_to="none", use_cpu=True, seed=0, beta=0.0,
                          disable_tqdm=True)
        grpo = build_trainer(model, tokenizer, RecipeConfig(max_sessions=2, seeds=tuple(range(16))), args)
        start = time.perf_counter()
        grpo.train()
        theirs = (time.perf_counter() - start) / steps
    print(f"trl       tiny model, 1 conversation x 4 generations x 2 sessions per step: memr2 Trainer "
          f"{ours:.2f} s/iteration, TRL GRPOTrainer {theirs:.2f} s/step ({theirs / ours:.1f}x)")


def verifiers_cost() -> None:
    from engines.agent_endpoint import build_app
    from engines.serving import serve_in_thread

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "BENCH_KEY": "unused"}
    app = build_app("store-all")
    with tempfile.TemporaryDirectory() as out, serve_in_thread(app) as base:
        url = f"{base}/v1"
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "vf-eval"), "memory-r2", "--env.taskset.max-sessions", "2",
                        "--env.taskset.episodes", "2", "--env.taskset.view-format", "json", "-m", "store-all",
                        "--client.base-url", url, "--client.api-key-var", "BENCH_KEY", "--no-push", "--no-rich",
                        "-o", out], check=True, env=env, capture_output=True)
        vf = time.perf_counter() - start
        turns = app.state.requests
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memr2", "eval", "--agent", "store-all", "--max-sessions", "2",
                        "--episodes", "2", "--output-dir", out, "--run-name", "m2", "--no-progress"], check=True,
                       env=env, capture_output=True)
        m2 = time.perf_counter() - start
    print(f"verifiers 2 store-all episodes x 2 sessions ({turns} model turns): vf-eval {vf:.1f} s "
          f"({vf / turns:.2f} s/turn with start-up), memr2 eval {m2:.1f} s (start-up included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--verifiers", action="store_true", help="also time vf-eval (launches harness programs)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 episodes, 1 step, no verifiers")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps, args.verifiers = 2, 1, False
    limit_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, module, run in (("openenv", "openenv.core", lambda: openenv_cost(args.episodes)),
                              ("trl", "trl", lambda: trl_cost(args.steps)),
                              ("verifiers", "verifiers.v1", verifiers_cost if args.verifiers else None)):
        if run is None:
            continue
        if not have(module):
            print(f"{name:9} skipped: pip install -e '.[{name}]'")
            continue
        run()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
