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
    assert result["train"]["estimator_name"] == "logo-manager-local"  # the report's label for this cell
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


def test_estimator_kwargs_reach_your_factory_and_row_weights_scale_the_update(tmp_path, monkeypatch):
    """Issue 21 item 8: a student's estimator takes arguments, and a row can count more or less than another."""
    import torch

    from algorithms.trainer import Trainer

    (tmp_path / "weighted.py").write_text(
        "from algorithms.estimators import Estimator, grpo_rows\n"
        "def make(weight=1.0):\n"
        "    def rows(batch):\n"
        "        out = grpo_rows(batch)\n"
        "        for row in out:\n"
        "            row.weight = weight\n"
        "        return out\n"
        "    return Estimator(f'weighted-{weight:g}', rows)\n"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="has no argument 'wieght'"):
        get_estimator("weighted.py:make", {"wieght": 2.0})
    with pytest.raises(ValueError, match="takes none"):
        get_estimator("grpo", {"weight": 2.0})
    assert get_estimator("weighted.py:make", {"weight": 0.5}).name == "weighted-0.5"

    def update_size(weight):
        config = TrainerConfig(curriculum=[4], iterations=1, num_generations=4, conversations_per_iteration=2,
                               eval_seeds=[100000], estimator="weighted.py:make", estimator_kwargs={"weight": weight},
                               learning_rate=1e-3, max_grad_norm=1e9, seed=0)
        trainer = Trainer(config)
        before = [p.detach().clone() for p in trainer.policy.model.parameters()]
        trainer.iteration(3)
        return sum(float((p.detach() - b).abs().sum()) for p, b in zip(trainer.policy.model.parameters(), before))

    assert update_size(0.0) == 0.0  # weight 0: the rows teach nothing
    assert update_size(1.0) > 0.0


def test_estimator_kwargs_on_the_command_line_are_checked_against_your_factory(tmp_path, monkeypatch, capsys):
    """``memr2 train --estimator-kwargs`` reaches the factory's signature check before any run directory is made."""
    from memr2.cli import main

    shutil.copy(REPO / "docs" / "examples" / "my_estimator.py", tmp_path / "my_estimator.py")
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--estimator", "my_estimator.py:make_estimator", "--estimator-kwargs", '{"omega": 2}',
                 "--output-dir", "run", "--no-progress"])
    assert code == 2 and "has no argument 'omega'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_report_names_a_file_estimator_by_the_name_its_factory_gave():
    """Issue 21 item 8: a study cell of ``my_estimator.py:make_estimator`` is labelled by the Estimator's own name
    (recorded by each run); a built-in keeps its name, and runs that disagree keep the spec."""
    from types import SimpleNamespace

    from memr2.study_report import estimator_label

    def runs(*names):
        return [SimpleNamespace(train={"estimator_name": name}) for name in names]

    assert estimator_label(runs("logo-manager-local", "logo-manager-local"), "my_estimator.py:make_estimator") \
        == "logo-manager-local"
    assert estimator_label(runs("grpo"), "grpo") == "grpo"
    assert estimator_label(runs("a", "b"), "my.py:make") == "my.py:make"
    assert estimator_label([SimpleNamespace(train=None)], "my.py:make") == "my.py:make"  # results older than the name
