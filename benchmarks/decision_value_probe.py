"""The decision-value probe of Synthetic-v1 (see agents/decision_probe.py): mean reward change per swap kind.

    python benchmarks/decision_value_probe.py [--env MemoryR2/Synthetic-v1] [--seeds 0 1 2 3 4 5] [--max-sessions 8]

``--quick``: one seed at 2 sessions (a smoke run).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import memenv  # noqa: F401
from agents.decision_probe import probe, summarize_probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="MemoryR2/Synthetic-v1")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    parser.add_argument("--max-sessions", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="smoke run: seed 0, 2 sessions")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.max_sessions = [0], 2
    start = time.perf_counter()
    env = gym.make(args.env, max_sessions=args.max_sessions, privileged=True)
    summary = summarize_probe(probe(env, args.seeds))
    print(f"{args.env}, {args.max_sessions} sessions, seeds {args.seeds}, baseline policy: always-ADD of the fact turns")
    print(f"{'swap':26s} {'count':>6s} {'session reward':>15s} {'terminal return':>16s} {'up':>6s} {'down':>6s}")
    for kind, row in summary.items():
        print(f"{kind:26s} {row['count']:6d} {row['session_delta']:+15.4f} {row['return_delta']:+16.4f} "
              f"{row['frac_up']:6.2f} {row['frac_down']:6.2f}")
    total = sum(row["count"] for row in summary.values())
    print(f"{total} swaps in {time.perf_counter() - start:.1f}s ('up'/'down': share of swaps that raised/lowered the return)")
    print("*-changing / *-stale rows are reported, not judged: they hit a memory whose key changes later (always-ADD "
          "leaves it to conflict with the new value) or one holding an outdated value, so removing it can help")


if __name__ == "__main__":
    main()
