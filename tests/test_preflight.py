"""Issue 21 item 7: configs and user files are checked before any work, and each usual mistake is one line
``memr2 <cmd>: error: ...`` with exit status 2 (no traceback, nothing run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from memr2.cli import main
from memr2.study import StudyConfig, plan

TRAINER = {"env_id": "MemoryR2/Synthetic-v1", "policy": "feature", "num_generations": 2, "local_num_generations": 2,
           "conversations_per_iteration": 1, "eval_seeds": [100000], "test_seeds": [200000]}


def write_study(folder: Path, **overrides) -> Path:
    """A one-cell study in ``folder`` naming its trainer config relative to itself."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer.yaml").write_text(yaml.safe_dump({"trainer": TRAINER}))
    study = {"name": "pre", "trainer_config": "trainer.yaml", "estimators": ["grpo"], "horizons": [1], "seeds": [0],
             "env_steps": 10, "eval_every": {1: 1}, "references": [], "results_dir": "results", "runs_dir": "runs",
             **overrides}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump({"study": study}))
    return path


def one_error_line(capsys, command: str) -> str:
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"memr2 {command}: error: "), line
    return line


def test_trainer_config_is_read_from_the_study_files_folder_not_the_cwd(tmp_path, monkeypatch):
    path = write_study(tmp_path / "configs")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    study = StudyConfig.from_file(path)
    assert Path(study.trainer_config) == (tmp_path / "configs" / "trainer.yaml").resolve()
    assert study.trainer().eval_seeds == [100000]
    assert all("--config" not in c.argv or str(tmp_path / "configs") in " ".join(c.argv) for c in plan(study))
    # a path written relative to the cwd (the old reading) is refused with a hint, not silently found
    monkeypatch.chdir(tmp_path)
    cwd_relative = write_study(tmp_path / "configs", trainer_config="configs/trainer.yaml")
    with pytest.raises(FileNotFoundError, match="read from the study YAML's folder"):
        StudyConfig.from_file(cwd_relative)


def test_paired_must_name_estimators_of_the_grid(tmp_path):
    with pytest.raises(ValueError, match=r"paired names \['logo'\], which are not in estimators \['grpo'\]"):
        StudyConfig.from_file(write_study(tmp_path, paired=[["logo", "grpo"]]))


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"estimators": ["lgoo"]}, "estimators: unknown estimator 'lgoo'"),
    ({"curricula": [{"estimator": "grop", "curriculum": [1, 1]}]}, "unknown estimator 'grop'"),
    ({"references": ["store_all"]}, "references: unknown agent 'store_all'"),
    ({"starts": [{"label": "x", "agent": "lmm"}]}, "starts: unknown agent 'lmm'"),
])
def test_a_study_typo_fails_at_dry_run_before_any_cell(tmp_path, monkeypatch, capsys, overrides, expected):
    monkeypatch.chdir(tmp_path)
    path = write_study(tmp_path, **overrides)
    assert main(["study", "--config", str(path), "--dry-run"]) == 2
    assert expected in one_error_line(capsys, "study")
    assert main(["study", "--config", str(path), "--workers", "1", "--no-progress"]) == 2
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()  # nothing launched


BAD_FILES = {
    "YAML syntax error in a trainer config": (
        "bad.yaml", "trainer:\n  iterations: [1, 2\n  lr: 0.1\n", ["train", "--config", "bad.yaml"],
        "bad.yaml: not valid YAML at line"),
    "iterations: ten": (
        "ten.yaml", "trainer:\n  iterations: ten\n", ["train", "--config", "ten.yaml"],
        "TrainerConfig field iterations='ten': Input should be a valid integer"),
    "syntax error in an agent file": (
        "broken_agent.py", "def make_agent(:\n    pass\n",
        ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "broken_agent.py:make_agent", "--episodes", "1"],
        "'broken_agent.py' has a syntax error ("),
    "an agent without act()": (
        "lazy_agent.py", "class Lazy:\n    pass\n\ndef make_agent():\n    return Lazy()\n",
        ["eval", "--env", "MemoryR2/Synthetic-v1", "--agent", "lazy_agent.py:make_agent", "--episodes", "1"],
        "agent 'lazy_agent.py:make_agent' built Lazy, which has no act(observation, info) method"),
    "an estimator factory returning the wrong type": (
        "wrong_estimator.py", "def make_estimator():\n    return 42\n",
        ["train", "--estimator", "wrong_estimator.py:make_estimator"],
        "returned int, not algorithms.estimators.Estimator"),
    "a study YAML syntax error": (
        "study.yaml", "study: {name: x\n", ["study", "--config", "study.yaml", "--dry-run"], "not valid YAML at line"),
}


@pytest.mark.parametrize("mistake", list(BAD_FILES))
def test_bad_user_files_are_one_line_errors(mistake, tmp_path, monkeypatch, capsys):
    name, text, argv, expected = BAD_FILES[mistake]
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text)
    assert main([*argv, "--output-dir", "out"] if argv[0] != "study" else argv) == 2
    assert expected in one_error_line(capsys, argv[0])
    assert not Path("out").exists()
