"""Load figures: wall time and peak memory (RSS) of ``memr2 eval`` at growing horizons and on the LoCoMo dev file.

    python benchmarks/load_figures.py [--agent store-all] [--episodes 2] [--quick]

``--quick`` measures one Synthetic-v1 episode at 2 sessions only (a smoke run).

Each eval runs in its own process (``os.wait4`` gives that child's own peak RSS), so the figures do not mix.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMR2 = Path(sys.executable).with_name("memr2")


def measure(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one ``memr2`` child process; raises if it fails."""
    start = time.perf_counter()
    child = subprocess.Popen([str(MEMR2), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"memr2 {' '.join(args)} failed: {child.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="store-all")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: one episode at 2 sessions, no LoCoMo")
    args = parser.parse_args()
    if args.quick:
        args.episodes = 1
    with tempfile.TemporaryDirectory() as out:
        cases = [
            (f"Synthetic-v1, {n} sessions, {args.episodes} episodes",
             ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", args.agent, "--max-sessions", str(n),
              "--episodes", str(args.episodes), "--seed", "100000", "--output-dir", out, "--no-progress"])
            for n in ((2,) if args.quick else (8, 32, 64))
        ]
        if not args.quick:
            cases.append(("LoCoMo-v0 dev subset (3 conversations)",
                          ["eval", "--protocol", "locomo-dev", "--agent", args.agent, "--output-dir", out,
                           "--no-progress"]))
        print(f"agent {args.agent}")
        print(f"{'case':44s} {'wall s':>8s} {'peak RSS MB':>12s}")
        for name, command in cases:
            wall, rss = measure(command)
            print(f"{name:44s} {wall:8.1f} {rss:12.0f}")


if __name__ == "__main__":
    main()
