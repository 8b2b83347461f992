"""Issue 21 item 6: `memr2 leaderboard` run from a user's folder (outside the checkout) writes only under --out,
checks every input before the first write, and can show the committed baseline rows next to the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from memr2.cli import main
from memr2.leaderboard import END, START
from memr2.results import MemoryStats, Metrics, RunResult, write_result
from memr2.study import StudyConfig, reference_cell_name
from memr2.workspace import BASELINES_ENV, baseline_dir, in_checkout, load_baselines

REPO = Path(__file__).resolve().parents[1]


def user_result(name: str, score: float, env_id: str = "MemoryR2/Synthetic-v1", **extra) -> RunResult:
    return RunResult(kind="eval", run_name=name, env_id=env_id, env_kwargs={"max_sessions": 8}, agent="mine.py:make",
                     scorer="rule", seeds=[0], metrics=Metrics(score=score, count=4), memory=MemoryStats(entries=1, tokens=2),
                     invalid_actions=0, wall_time_s=1.0, version="0.1.0", **extra)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def user_folder(tmp_path, monkeypatch) -> Path:
    """An empty working folder holding only the user's results (``mine/``)."""
    monkeypatch.chdir(tmp_path)
    write_result(user_result("my-agent", 0.4321, protocol="synthetic-v1-8", display_name="MyAgent"), "mine")
    return tmp_path


def test_leaderboard_from_an_empty_folder_writes_only_under_out(user_folder):
    before = files_under(user_folder)
    assert not in_checkout()
    assert main(["leaderboard", "--results", "mine", "--out", "board"]) == 0
    assert files_under(user_folder) - before == {"board/README.md"}
    board = (user_folder / "board" / "README.md").read_text()
    assert "| MyAgent |" in board and "**0.432**" in board


def test_baselines_come_from_the_installed_package_next_to_the_users_rows(user_folder):
    baselines = load_baselines()
    assert baselines and {r.agent for r in baselines} >= {"store-all", "restricted-oracle"}
    assert all(r.kind == "eval" for r in baselines)
    assert baseline_dir() == REPO / "leaderboards" / "results"
    before = files_under(user_folder)
    assert main(["leaderboard", "--results", "mine", "--out", "board/lb.md", "--baselines"]) == 0
    assert files_under(user_folder) - before == {"board/lb.md"}
    board = (user_folder / "board" / "lb.md").read_text()
    table = board.split("### Protocol `synthetic-v1-8`")[1].split("###")[0]
    committed = next(r for r in baselines if r.protocol == "synthetic-v1-8" and r.agent == "restricted-oracle")
    assert "| MyAgent |" in table and f"**{committed.metrics.score:.3f}**" in table


def test_baselines_folder_can_be_named_and_a_missing_one_is_an_error(user_folder, monkeypatch, capsys):
    monkeypatch.setenv(BASELINES_ENV, str(user_folder / "nowhere"))
    assert main(["leaderboard", "--results", "mine", "--out", "board", "--baselines"]) == 2
    assert f"${BASELINES_ENV}=" in capsys.readouterr().err
    monkeypatch.setenv(BASELINES_ENV, str(user_folder / "mine"))
    assert [r.run_name for r in load_baselines()] == []  # the user's agent is not a built-in reference agent


def test_a_users_study_report_goes_next_to_out_with_the_baselines(user_folder):
    config = user_folder / "cfg"
    config.mkdir()
    (config / "trainer.yaml").write_text(yaml.safe_dump({"trainer": {"env_id": "MemoryR2/Synthetic-v1",
                                                                      "eval_seeds": [100000], "test_seeds": [200000]}}))
    (config / "study.yaml").write_text(yaml.safe_dump({"study": {
        "name": "mine", "trainer_config": "trainer.yaml", "estimators": ["grpo"], "horizons": [8], "seeds": [0],
        "env_steps": 100, "eval_every": {8: 1}, "references": ["store-all"], "results_dir": "mine/study",
        "runs_dir": "runs"}}))
    study = StudyConfig.from_file(config / "study.yaml")
    reference = user_result(reference_cell_name(study, "store-all", 8, "test"), 0.25)
    write_result(reference.model_copy(update={"agent": "store-all"}), "mine/study")
    before = files_under(user_folder)
    assert main(["leaderboard", "--results", "mine", "--out", "board", "--study", "cfg/study.yaml", "--baselines"]) == 0
    assert {f for f in files_under(user_folder) - before if not f.endswith(".png")} == {"board/README.md",
                                                                                        "board/study.md"}
    assert all(f.startswith("board/") for f in files_under(user_folder) - before)
    report = (user_folder / "board" / "study.md").read_text()
    assert "| store-all (reference, no training) | 0.250 |" in report
    assert "Committed baseline rows" in report and "| restricted-oracle |" in report


def test_inputs_are_checked_before_anything_is_written(user_folder, capsys):
    Path("NOTES.md").write_text("my own readme, no markers\n")
    assert main(["leaderboard", "--results", "mine", "--out", "board", "--readme", "NOTES.md"]) == 2
    assert "--readme NOTES.md has no" in capsys.readouterr().err
    assert main(["leaderboard", "--results", "mine", "--out", "board", "--study", "missing.yaml"]) == 2
    assert not Path("board").exists() and Path("NOTES.md").read_text() == "my own readme, no markers\n"
    Path("README.md").write_text(f"mine\n{START}\n{END}\n")
    assert main(["leaderboard", "--results", "mine", "--out", "board"]) == 0  # not spliced unless asked
    assert Path("README.md").read_text() == f"mine\n{START}\n{END}\n"
    assert main(["leaderboard", "--results", "mine", "--out", "board", "--readme", "README.md"]) == 0
    assert "| MyAgent |" in Path("README.md").read_text()
