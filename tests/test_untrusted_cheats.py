"""The cheats of issue 19 (tests/cheats/) under the untrusted-agent mode: each beats store-all by a wide margin in
the maintainer's process (self-reported) and not at all in its own process on secret seeds (verified), through
``benchmarks/untrusted_cheats.py``'s :func:`measure` (its ``--quick`` run prints the same numbers as a table)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("untrusted_cheats", REPO / "benchmarks" / "untrusted_cheats.py")
bench = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
CHEATS = {cheat.script: cheat for cheat in bench.CHEATS}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("a secret only the maintainer holds")
    return path


def scores(script: str, secret_file: Path, tmp_path: Path) -> dict:
    cheat = CHEATS[script]
    found = bench.measure(cheat, cheat.protocols[0], secret_file, tmp_path)
    assert found["untrusted_mode"] == "verified" and found["in_process_mode"] == "self-reported"
    return found


@pytest.mark.parametrize("script", ["shadow_env.py", "gc_privileged.py"])
def test_replaying_gold_wins_in_process_and_is_store_all_under_the_mode(script, secret_file, tmp_path):
    """(a) a shadow env on the public seeds and (d) gc flipping ``privileged``: 1.000 against store-all's 0.212 in
    process; in the mode the public seeds are not the episodes, and the agent's process holds no env."""
    s = scores(script, secret_file, tmp_path)
    assert s["in_process"] == 1.0 and s["store_all_in_process"] < 0.3
    assert s["untrusted"] == pytest.approx(s["store_all_untrusted"])  # it falls back to store-all, and gains nothing


def test_embedded_qa_is_out_of_reach_only_when_the_agent_cannot_import_memory_r2(secret_file, tmp_path):
    """(b) reads memory-r2's embedded LoCoMo QA: 1.000 in process. An agent whose interpreter cannot import memory-r2
    (``python -S``, no PYTHONPATH, a fresh working folder) finds no data and scores as store-all; one that can import
    it still reads the file (the limit docs/reliability.md states: the mode does not hide files)."""
    s = scores("embedded_qa.py", secret_file, tmp_path)
    assert s["in_process"] == 1.0 and s["store_all_in_process"] < 0.7
    assert s["untrusted"] == pytest.approx(s["store_all_untrusted"])
    assert s["untrusted_with_memr2"] == 1.0


def test_constructed_actions_gain_nothing_in_either_place(secret_file, tmp_path):
    """(c) a ``model_construct`` action keeping the whole dialogue in one memory (0.875 at 6a013e2): ``step`` now
    revalidates action objects in process, and in the mode only the action's JSON crosses."""
    s = scores("constructed_action.py", secret_file, tmp_path)
    assert s["in_process"] < s["store_all_in_process"] and s["untrusted"] < s["store_all_untrusted"]
