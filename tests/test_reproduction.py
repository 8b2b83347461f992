"""A committed training cell reproduces from the command it records (issue 18: a committed study cell did not).

``tests/data/train_cell.json`` is a small `memr2 train` result made by `make repro-fixture` on a clean checkout; its
command, commit and platform are in the file. Rerun from the repository root, the result must be the same but for
timing and provenance. On the CPU it was made on (same torch kernel level, one thread) every number must be
identical; elsewhere floats may differ in their last bits (losses and entropies, not scores), so they get 1e-6.
"""

from pathlib import Path

import pytest

from memr2.cli import main
from memr2.reproduce import drift, rerun_argv
from memr2.results import read_result
from memr2.runtime import platform_info

ROOT = Path(__file__).resolve().parents[1]
CELL = ROOT / "tests" / "data" / "train_cell.json"


def test_the_committed_training_cell_reproduces_from_its_recorded_command(tmp_path, monkeypatch):
    import torch  # noqa: F401  (platform_info reports its kernel level)

    committed = read_result(CELL)
    assert committed.kind == "train" and committed.dirty is False and committed.torch_threads == 1
    assert committed.command.startswith("memr2 train ")
    monkeypatch.chdir(ROOT)  # the command names its config relative to the repository
    monkeypatch.setenv("MEMR2_EMBEDDING_STORE", str(tmp_path / "store"))  # a fresh machine's empty store
    assert main(rerun_argv(committed.command, tmp_path)) == 0
    rerun = read_result(tmp_path / "rerun.json")
    same_cpu = all(committed.platform.get(k) == platform_info().get(k) for k in ("machine", "torch_cpu_capability"))
    assert drift(committed, rerun, rel_tol=0.0 if same_cpu else 1e-6) == []
    assert rerun.curve == committed.curve and rerun.test_metrics == committed.test_metrics


def test_drift_finds_a_changed_score():
    committed = read_result(CELL)
    changed = committed.model_copy(deep=True)
    changed.test_metrics.score += 0.01
    assert drift(committed, changed, rel_tol=1e-6) and not drift(committed, committed.model_copy(deep=True))
