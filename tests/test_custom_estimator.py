"""A third-party estimator through the real console script (docs/estimators.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from algorithms.config import TrainerConfig
from algorithms.estimators import ESTIMATORS, Estimator, get_estimator

REPO = Path(__file__).resolve().parents[1]


def test_memr2_train_runs_an_estimator_from_a_file(tmp_path):
    shutil.copy(REPO / "docs" / "examples" / "my_estimator.py", tmp_path / "my_estimator.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    memr2 = Path(sys.executable).with_name("memr2")
    command = [str(memr2), "train", "--env", "MemoryR2/Synthetic-v1", "--estimator", "my_estimator.py:make_estimator",
               "--curriculum", "2", "--iterations", "2", "--eval-every", "2", "--num-generations", "2",
               "--local-num-generations", "2", "--local-prob", "1.0", "--conversations-per-iteration", "1",
               "--eval-seeds", "900", "--test-seeds", "901", "--output-dir", "run", "--no-progress"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "run" / "run.json").read_text())
    assert result["estimator"] == "my_estimator.py:make_estimator"
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 < line["rollout/local_frac"] < 1.0 for line in lines)  # both its global and its local rows


def test_estimator_specs_are_checked_before_use(tmp_path, monkeypatch):
    (tmp_path / "bad_estimators.py").write_text("def not_an_estimator():\n    return 42\nvalue = 3\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="not algorithms.estimators.Estimator"):
        get_estimator("bad_estimators.py:not_an_estimator")
    with pytest.raises(ValueError, match="not usable as the estimator factory"):
        get_estimator("bad_estimators.py:value")
    with pytest.raises(ValueError, match="unknown estimator 'lgoo'"):
        get_estimator("lgoo")
    assert get_estimator("logo") is ESTIMATORS["logo"] and isinstance(get_estimator("grpo"), Estimator)
