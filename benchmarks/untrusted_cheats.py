"""The cheats of issue 19 in process (self-reported) and under the untrusted-agent mode, next to store-all.

Each cheat (``tests/cheats/``) runs its protocol twice: as ``--agent file.py:make_agent`` in the maintainer's
process on the protocol's public seeds, and as ``--untrusted-agent "python file.py"`` on seeds drawn from a fresh
secret. store-all runs both ways too (its scores differ between the columns only because the secret draws other
episodes). The mode's agents get the repository on ``PYTHONPATH`` (``--agent-env``): the worst case, an agent with
all of memory-r2's code. The embedded-QA cheat needs only the standard library; it runs once with an interpreter
that cannot import memory-r2 (``python -S``, as in a container image without it) and once with one that can, which
shows what the process boundary alone does not hide (docs/reliability.md).

    python benchmarks/untrusted_cheats.py --quick     # one protocol per cheat (~15 s)
    python benchmarks/untrusted_cheats.py             # also synthetic-v1-32 and the cheats' other protocols  (~25 s)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHEATS_DIR = REPO / "tests" / "cheats"
STORE_ALL = "-m agents.remote store-all"


@dataclass(frozen=True)
class Cheat:
    """A cheat script and the protocols it targets (the first is the ``--quick`` one)."""

    name: str
    script: str
    protocols: tuple[str, ...]
    stdlib_only: bool = False  # speaks the wire by hand: runs with an interpreter that has no memory-r2


CHEATS = (
    Cheat("shadow env (a)", "shadow_env.py", ("synthetic-v1-8", "synthetic-v1-32")),
    Cheat("embedded QA (b)", "embedded_qa.py", ("locomo-dev",), stdlib_only=True),
    Cheat("model_construct (c)", "constructed_action.py", ("locomo-dev", "synthetic-v1-8")),
    Cheat("gc privileged (d)", "gc_privileged.py", ("synthetic-v1-8", "synthetic-v1-32")),
)


def run_eval(flags: list[str], folder: Path):
    """``memr2 eval FLAGS`` in this process (its printing swallowed); the result it wrote."""
    from memr2.cli import main
    from memr2.results import read_result

    folder.mkdir(parents=True, exist_ok=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["eval", *flags, "--output-dir", str(folder), "--run-name", "run", "--no-progress"])
    if status != 0:
        raise RuntimeError(f"memr2 eval {' '.join(flags)} failed ({status}): {err.getvalue()[-800:]}")
    return read_result(folder / "run.json")


def untrusted_flags(command: str, secret_file: Path, give_repo: bool = True) -> list[str]:
    """The mode's flags: the agent's command (this interpreter), the repository on its path if ``give_repo``, the
    secret."""
    flags = ["--untrusted-agent", f"{sys.executable} {command}", "--seed-secret-file", str(secret_file)]
    return flags + (["--agent-env", f"PYTHONPATH={REPO}"] if give_repo else [])


def measure(cheat: Cheat, protocol: str, secret_file: Path, workdir: Path) -> dict[str, float]:
    """Scores of ``cheat`` on ``protocol``: ``in_process`` and ``untrusted`` (and ``untrusted_with_memr2`` for a
    standard-library cheat), next to ``store_all_in_process`` and ``store_all_untrusted`` (same secret)."""
    script = CHEATS_DIR / cheat.script
    base = ["--protocol", protocol]
    folder = workdir / f"{script.stem}-{protocol}"
    scores = {
        "in_process": run_eval([*base, "--agent", f"{script}:make_agent"], folder / "in-process"),
        "store_all_in_process": run_eval([*base, "--agent", "store-all"], folder / "store-all-in-process"),
        "store_all_untrusted": run_eval([*base, *untrusted_flags(STORE_ALL, secret_file)], folder / "store-all"),
    }
    if cheat.stdlib_only:
        flags = untrusted_flags(f"-S {script}", secret_file, give_repo=False)
        scores["untrusted"] = run_eval([*base, *flags], folder / "untrusted")
        scores["untrusted_with_memr2"] = run_eval([*base, *untrusted_flags(str(script), secret_file)], folder / "with")
    else:
        scores["untrusted"] = run_eval([*base, *untrusted_flags(str(script), secret_file)], folder / "untrusted")
    return {name: result.metrics.score for name, result in scores.items()} | {
        "untrusted_mode": scores["untrusted"].mode, "in_process_mode": scores["in_process"].mode}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one protocol per cheat")
    args = parser.parse_args(argv)
    print("| cheat | protocol | in process (self-reported) | untrusted mode (verified) | store-all in process | "
          "store-all untrusted |")
    print("|---|---|---|---|---|---|")
    modes: dict[str, set[str]] = {"untrusted": set(), "in process": set()}
    with tempfile.TemporaryDirectory(prefix="untrusted-cheats-") as scratch:
        workdir = Path(scratch)
        secret_file = workdir / "secret"
        secret_file.write_text(secrets.token_hex(32))
        for cheat in CHEATS:
            for protocol in cheat.protocols[:1] if args.quick else cheat.protocols:
                s = measure(cheat, protocol, secret_file, workdir)
                modes["untrusted"].add(s["untrusted_mode"])
                modes["in process"].add(s["in_process_mode"])
                print(f"| {cheat.name} | {protocol} | {s['in_process']:.3f} | {s['untrusted']:.3f} | "
                      f"{s['store_all_in_process']:.3f} | {s['store_all_untrusted']:.3f} |", flush=True)
                if "untrusted_with_memr2" in s:
                    print(f"| {cheat.name}, agent's interpreter can import memory-r2 | {protocol} | - | "
                          f"{s['untrusted_with_memr2']:.3f} | - | {s['store_all_untrusted']:.3f} |", flush=True)
    print("result modes: " + "; ".join(f"{where} {', '.join(sorted(found))}" for where, found in modes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
