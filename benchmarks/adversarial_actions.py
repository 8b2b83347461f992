"""Worst-case step time on adversarial agent output, relative to a normal step, plus fuzz counts (issue 14).

For every registered env and both roles, in this one run:

* the **normal step**: the median time of ``step`` with a typical output (extractor: one ``- speaker: text [id]``
  line per turn of the chunk; manager: one ``ADD:`` line per pending fact), over ``--repeats`` clones;
* each **named worst case** of :func:`memenv.testing.adversarial_actions` (the fastest of ``--repeats`` tries, so
  that a scheduler hiccup on a shared machine is not mistaken for the parser), as a ratio to the normal step;
* a **fuzz** run of ``--examples`` actions drawn from :func:`memenv.testing.any_action`: how many were tried,
  how many raised (from ``step`` or when dumping the state to JSON), and how many were over budget (slower than
  ``--budget`` times the normal step on three tries), with the slowest one. A valid action of many items (up to
  ``MAX_ACTION_ITEMS`` ADDs) is legitimately many times a two-item normal step: its cost is linear in the items.

The goal: the worst ratio is at most 10. Usage::

    python benchmarks/adversarial_actions.py [--examples 2000] [--repeats 5] [--budget 10] [--quick]

``--quick`` is a smoke run (20 fuzzed actions per env and role, 2 tries per timing).
"""

from __future__ import annotations

import argparse
import reprlib
import statistics
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from memenv.registration import ENVS
from memenv.testing import adversarial_actions, any_action, env_at


def typical_action(env: Any) -> str:
    if env.role == "extractor":
        return "\n".join(f"- {t.speaker}: {t.text} [{t.dia_id}]" for t in env.current_turns) or "- nothing new"
    return "\n".join(f"ADD: {f.fact}" for f in env.pending_facts)


def step_seconds(ready: Any, action: Any, repeats: int) -> float:
    """The fastest of ``repeats`` steps of fresh clones of ``ready`` with ``action``."""
    best = float("inf")
    for _ in range(repeats):
        env = ready.clone()
        start = time.perf_counter()
        env.step(action)
        best = min(best, time.perf_counter() - start)
    return best


def normal_seconds(ready: Any, repeats: int) -> float:
    action = typical_action(ready)
    return statistics.median(step_seconds(ready, action, 1) for _ in range(repeats))


def fuzz(ready: Any, role: str, examples: int, normal: float, budget: float) -> dict[str, Any]:
    counts: dict[str, Any] = {"tried": 0, "crashed": 0, "over_budget": 0, "slowest": (0.0, "")}

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(action=any_action(role))
    def trial(action: Any) -> None:
        counts["tried"] += 1
        env = ready.clone()
        try:
            start = time.perf_counter()
            env.step(action)
            elapsed = time.perf_counter() - start
            env.get_state().model_dump_json()
        except Exception:  # noqa: BLE001 - counting every escape is the point
            counts["crashed"] += 1
            return
        if elapsed > budget * normal:
            elapsed = step_seconds(ready, action, 3)
            counts["over_budget"] += elapsed > budget * normal
        counts["slowest"] = max(counts["slowest"], (elapsed / normal, reprlib.repr(action)))

    trial()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="fuzzed actions per env and role")
    parser.add_argument("--repeats", type=int, default=5, help="tries per timed action")
    parser.add_argument("--budget", type=float, default=10.0, help="over budget: slower than this x normal")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 examples, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.examples, args.repeats = 20, 2

    worst = (0.0, "")
    for env_id in sorted(ENVS):
        for role in ("extractor", "manager"):
            ready = env_at(env_id, role)
            normal = normal_seconds(ready, max(args.repeats, 5 if args.quick else 25))
            print(f"\n{env_id} {role}: normal step {normal * 1e3:.3f} ms")
            for name, action in adversarial_actions(role).items():
                ratio = step_seconds(ready, action, args.repeats) / normal
                worst = max(worst, (ratio, f"{env_id} {role} {name}"))
                print(f"  {name:<24} {ratio:7.2f}x")
            counts = fuzz(ready, role, args.examples, normal, args.budget)
            print(f"  fuzz: tried {counts['tried']}, crashed {counts['crashed']}, "
                  f"over budget (> {args.budget:g}x) {counts['over_budget']}; "
                  f"slowest {counts['slowest'][0]:.2f}x: {counts['slowest'][1]}")
    verdict = "meets" if worst[0] <= 10 else "MISSES"
    print(f"\nworst adversarial step: {worst[0]:.2f}x a normal step ({worst[1]}); {verdict} the goal of <= 10x")


if __name__ == "__main__":
    main()
