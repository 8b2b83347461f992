"""Env throughput: env steps/s of scripted agents, one manager step with 16 ADDs, and FeaturePolicy training steps/s.

What it measures, on MemoryR2/Synthetic-v0:

1. env steps/s of the store-all and oracle agents at 8 and 32 sessions (``agents.rollout.run_episode``, after
   a warm-up episode);
2. one manager step with 16 ADDs (store-all's "speaker: turn" memories) mid-episode, at bank sizes 100 and
   1,000: the bank's work -- the 16 ADDs applied op by op (a new bank per operation, as ``MemoryEnv._manage``
   did before ``MemoryBank.transaction``) and in one transaction, timed in turn for their ratio -- and the
   whole ``env.step``;
3. env steps/s of FeaturePolicy training (``algorithms.trainer.Trainer``, estimator ``logo``, 8 sessions): the
   env steps of rollouts and local rerollouts divided by the wall time of a few training iterations (after
   one warm-up iteration).

With ``--baseline REV`` the measurements that only use the public env / bank / trainer API (1, the op-by-op
ADDs and ``env.step`` of 2, and 3) also run on git revision ``REV`` (exported to a temporary folder and imported
from there by a subprocess) in the same run -- in the order baseline, this tree, this tree, baseline, means
reported -- and the script prints after/before ratios.

Usage::

    python benchmarks/env_throughput.py [--baseline dd86de4] [--episodes 3] [--train-iterations 3] [--quick]

End-to-end training throughput of the study cell is ``benchmarks/throughput.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import memenv  # registers the environments; its path tells which tree is measured
from agents.baselines import Oracle, StoreAll
from agents.rollout import run_episode
from memenv.actions import AddOp, ExtractAction, Fact, ManageAction
from memenv.bank import MemoryBank
from memenv.data.synthetic import generate
from memenv.envs.synthetic import SyntheticEnv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval_cost import store_all_bank  # noqa: E402

AGENTS = {"store-all": StoreAll, "oracle": Oracle}
OPS_PER_STEP = 16


def env_steps_per_second(agent: str, sessions: int, episodes: int) -> float:
    """Env steps per second of ``agent`` over ``episodes`` Synthetic-v0 episodes (seeds 0, 1, ...), after one
    untimed warm-up episode (imports, caches)."""
    env = gym.make("MemoryR2/Synthetic-v0", max_sessions=sessions)
    if getattr(AGENTS[agent], "privileged", False):  # the oracle reads gold: opt-in since the trust model (a
        try:                                           # baseline revision older than it has no such argument)
            env = gym.make("MemoryR2/Synthetic-v0", max_sessions=sessions, privileged=True)
        except TypeError:
            pass
    player = AGENTS[agent]()
    run_episode(env, player, seed=10_000)
    start, steps = time.perf_counter(), 0
    for seed in range(episodes):
        steps += run_episode(env, player, seed=seed).steps
    return steps / (time.perf_counter() - start)


def step_contents() -> list[tuple[str, str]]:
    """``OPS_PER_STEP`` (speaker, turn text) pairs of a held-out Synthetic-v0 conversation."""
    turns = [turn for session in generate(seed=12345, max_sessions=8).sessions for turn in session.turns]
    return [(turn.speaker, turn.text) for turn in turns[:OPS_PER_STEP]]


def manager_env(size: int) -> tuple[SyntheticEnv, ManageAction]:
    """A Synthetic-v0 env at a manager step of session 1 whose bank holds ``size`` store-all memories, and the
    store-all manager action for its 16 facts (16 ADDs)."""
    pairs = step_contents()
    env = SyntheticEnv(max_sessions=8)
    env.reset(seed=0)
    env.bank = store_all_bank(size)
    env.step(ExtractAction(facts=tuple(Fact(speaker=speaker, fact=text) for speaker, text in pairs)))
    return env, ManageAction(operations=tuple(AddOp(content=f"{speaker}: {text}") for speaker, text in pairs))


def env_manager_step_seconds(size: int, repeats: int) -> float:
    """Median time of the whole ``env.step`` of the 16-ADD manager step (on a fresh clone each time)."""
    env, action = manager_env(size)

    def one() -> float:
        fork = env.clone()
        start = time.perf_counter()
        fork.step(action)
        return time.perf_counter() - start

    return statistics.median(one() for _ in range(repeats))


def op_by_op(bank: MemoryBank, pairs: list[tuple[str, str]]) -> float:
    """Seconds to apply the ADDs one at a time, each returning a new bank (the path before transactions)."""
    start = time.perf_counter()
    for speaker, text in pairs:
        bank, _ = bank.add(f"{speaker}: {text}", speaker=speaker, session=1, step=1)
    return time.perf_counter() - start


def in_one_transaction(bank: MemoryBank, pairs: list[tuple[str, str]]) -> float:
    """Seconds to apply the same ADDs in one :meth:`MemoryBank.transaction` (the path ``_manage`` takes)."""
    start = time.perf_counter()
    transaction = bank.transaction()
    for speaker, text in pairs:
        transaction.add(f"{speaker}: {text}", speaker=speaker, session=1, step=1)
    transaction.commit()
    return time.perf_counter() - start


def bank_seconds(size: int, repeats: int, *ways) -> list[float]:
    """Median seconds of each way of applying the 16 ADDs to a bank of ``size``; the ways take turns, so a change
    in machine load affects them alike."""
    bank, pairs = store_all_bank(size), step_contents()
    times = [[way(bank, pairs) for way in ways] for _ in range(repeats)]
    return [statistics.median(column) for column in zip(*times)]


def training_steps_per_second(iterations: int) -> float:
    """Env steps per second of FeaturePolicy LoGo training iterations at 8 sessions (rollouts + update)."""
    from algorithms.config import TrainerConfig
    from algorithms.trainer import Trainer

    trainer = Trainer(TrainerConfig(estimator="logo", policy="feature", curriculum=[8], iterations=iterations, seed=0))
    trainer.iteration(8)  # warm-up, untimed
    start, steps = time.perf_counter(), trainer.state.env_steps
    for _ in range(iterations):
        trainer.iteration(8)
    return (trainer.state.env_steps - steps) / (time.perf_counter() - start)


def shared_measurements(args: argparse.Namespace) -> dict[str, float]:
    """Everything that runs on any revision of the public API (the baseline subprocess runs only this)."""
    results = {}
    for agent in AGENTS:
        for sessions in (8, 32):
            episodes = args.episodes * 32 // sessions  # the same number of steps at every horizon
            results[f"env {agent} {sessions}s steps/s"] = env_steps_per_second(agent, sessions, episodes)
    for size in args.sizes:
        results[f"bank 16 ADDs op by op @{size} (ms)"] = bank_seconds(size, args.repeats, op_by_op)[0] * 1e3
        results[f"env.step manager 16 ADDs @{size} (ms)"] = env_manager_step_seconds(size, args.repeats) * 1e3
    results["train logo feature 8s env steps/s"] = training_steps_per_second(args.train_iterations)
    return results


def this_tree_measurements(args: argparse.Namespace) -> dict[str, float]:
    """:func:`shared_measurements` plus the 16 ADDs in one transaction (new in this tree), timed in turn with
    the op-by-op path for their ratio."""
    results = shared_measurements(args)
    for size in args.sizes:
        per_op, batched = bank_seconds(size, args.repeats, op_by_op, in_one_transaction)
        results[f"bank 16 ADDs transaction @{size} (ms)"] = batched * 1e3
        results[f"op by op / transaction @{size}"] = per_op / batched
    return results


@contextlib.contextmanager
def exported_tree(revision: str):
    """The files of git revision ``revision``, exported to a temporary folder."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="throughput-baseline-") as tree:
        archive = subprocess.run(["git", "-C", str(root), "archive", revision], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        yield tree


def measurements_in_tree(tree: str, args: argparse.Namespace) -> dict[str, float]:
    """:func:`shared_measurements` in a subprocess that imports the packages of ``tree``."""
    command = [sys.executable, __file__, "--shared-only", "--episodes", str(args.episodes),
               "--train-iterations", str(args.train_iterations), "--repeats", str(args.repeats),
               "--sizes", *map(str, args.sizes)]
    env = {**os.environ, "PYTHONPATH": tree}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=tree).stdout
    reply = json.loads(output.splitlines()[-1])
    if not Path(reply["memenv"]).resolve().is_relative_to(Path(tree).resolve()):
        raise RuntimeError(f"the baseline imported memenv from {reply['memenv']}, not from {tree}")
    return reply["results"]


def mean_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.mean(run[name] for run in runs) for name in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3, help="episodes at 32 sessions per agent (4x at 8 sessions)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="bank sizes of the manager step")
    parser.add_argument("--repeats", type=int, default=200, help="manager-step timings per size (median reported)")
    parser.add_argument("--train-iterations", type=int, default=3, help="FeaturePolicy training iterations timed")
    parser.add_argument("--baseline", metavar="REV", help="also measure git revision REV and print after/before")
    parser.add_argument("--shared-only", action="store_true", help=argparse.SUPPRESS)  # the baseline subprocess
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 episode, 2 sizes x 5 repeats, 1 iteration")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.repeats, args.train_iterations = 1, 5, 1
    if args.shared_only:
        print(json.dumps({"memenv": memenv.__file__, "results": shared_measurements(args)}))
        return
    print(f"measuring {Path(memenv.__file__).resolve().parent.parent}")
    before = None
    if args.baseline:  # ABBA order, so a change in machine load between the runs shifts both sides alike
        with exported_tree(args.baseline) as tree:
            first = measurements_in_tree(tree, args)
            runs = [this_tree_measurements(args), this_tree_measurements(args)]
            before = mean_of([first, measurements_in_tree(tree, args)])
        after = mean_of(runs)
    else:
        after = this_tree_measurements(args)
    header = f"{'measurement':<42} {'this tree':>10}"
    print(header + (f" {args.baseline:>10} {'after/before':>13}" if before else ""))
    for name, value in after.items():
        line = f"{name:<42} {value:>10.3f}"
        if before and name in before:
            line += f" {before[name]:>10.3f} {value / before[name]:>13.2f}"
        print(line)
    for size in args.sizes:
        print(f"16 ADDs at {size} entries, this tree: op by op / one transaction = "
              f"{after[f'op by op / transaction @{size}']:.2f} (timed in turn)")
        if before:
            batched = after[f"bank 16 ADDs transaction @{size} (ms)"]
            old_bank = before[f"bank 16 ADDs op by op @{size} (ms)"] / batched
            step = before[f"env.step manager 16 ADDs @{size} (ms)"] / after[f"env.step manager 16 ADDs @{size} (ms)"]
            print(f"16 ADDs at {size} entries, {args.baseline} / this tree: bank work {old_bank:.2f} (goal >= 3: "
                  f"{'met' if old_bank >= 3 else 'MISSED'}), whole manager env.step {step:.2f}")

if __name__ == "__main__":
    main()
