"""Issue 21 items 3 and 4 for ``memr2 eval``: outputs checked before the run, a clean Ctrl-C that keeps what
finished and marks partial files, and an agent returning no action at all stops the run (unless allowed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memr2.cli import main

SYNTHETIC = ["eval", "--env", "MemoryR2/Synthetic-v1", "--max-sessions", "1", "--no-progress"]

AGENTS = '''
from agents.baselines import StoreAll

class Returns:
    def __init__(self, value):
        self.value = value
    def act(self, observation, info):
        return self.value

def forty_two():
    return Returns(42)

def nothing():
    return Returns(None)

def unparsable():  # what the LLM agent returns for output it cannot parse
    from memenv.actions import ParseError
    return Returns(ParseError(role="extractor", message="no JSON in the completion"))

def slow_to_build():
    raise KeyboardInterrupt  # Ctrl-C while the agent loads

class Interrupted(StoreAll):
    """store-all, until Ctrl-C arrives during its second episode (as SIGINT's KeyboardInterrupt would)."""
    resets = 0
    def reset(self):
        Interrupted.resets += 1
    def act(self, observation, info):
        if Interrupted.resets == 2:
            raise KeyboardInterrupt
        return super().act(observation, info)
'''


@pytest.fixture(scope="module")
def agents_file(tmp_path_factory) -> str:
    """One file for the module: a file agent is imported once per process under its file name."""
    path = tmp_path_factory.mktemp("agents") / "guard_agents.py"
    path.write_text(AGENTS)
    return str(path)


def one_error_line(capsys) -> str:
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


@pytest.mark.parametrize("blocker", ["file", "file-parent"])
def test_an_output_dir_that_cannot_be_written_fails_before_the_eval_runs(tmp_path, capsys, blocker, agents_file):
    (tmp_path / "taken").write_text("a file")
    output = tmp_path / "taken" if blocker == "file" else tmp_path / "taken" / "sub"
    # the agent would raise at its first step: reaching it means the eval ran before the check
    assert main([*SYNTHETIC, "--agent", f"{agents_file}:forty_two", "--output-dir", str(output)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"memr2 eval: error: --output-dir {output}: ")
    trajectories_dir = tmp_path / "steps.jsonl"
    trajectories_dir.mkdir()
    assert main([*SYNTHETIC, "--agent", "store-all", "--output-dir", str(tmp_path / "ok"),
                 "--save-trajectories", str(trajectories_dir)]) == 2
    assert "--save-trajectories" in one_error_line(capsys) and not list((tmp_path / "ok").glob("*.json"))


@pytest.mark.parametrize(("factory", "shown"), [("forty_two", "int 42"), ("nothing", "NoneType None")])
def test_an_agent_returning_no_action_fails_loudly_unless_allowed(tmp_path, capsys, agents_file, factory, shown):
    out = tmp_path / "out"
    assert main([*SYNTHETIC, "--agent", f"{agents_file}:{factory}", "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"memr2 eval: error: the agent's act() returned {shown}; it must return text")
    assert "--allow-invalid-actions" in line and not list(out.glob("*.json"))
    assert main([*SYNTHETIC, "--agent", f"{agents_file}:{factory}", "--output-dir", str(out),
                 "--allow-invalid-actions", "--run-name", "allowed"]) == 0
    result = json.loads((out / "allowed.json").read_text())
    assert result["invalid_actions"] == 2 and result["metrics"]["score"] == 0.0  # extractor + manager step
    assert "2 invalid action(s) were penalised" in capsys.readouterr().err


def test_an_agents_own_parse_error_is_scored_as_an_invalid_action(tmp_path, capsys, agents_file):
    out = tmp_path / "out"
    assert main([*SYNTHETIC, "--agent", f"{agents_file}:unparsable", "--output-dir", str(out), "--run-name", "p"]) == 0
    assert json.loads((out / "p.json").read_text())["invalid_actions"] == 2


def test_ctrl_c_keeps_the_finished_episodes_and_marks_partial_files(tmp_path, capsys, agents_file):
    out, steps = tmp_path / "out", tmp_path / "steps.jsonl"
    code = main([*SYNTHETIC, "--agent", f"{agents_file}:Interrupted", "--episodes", "3", "--output-dir", str(out),
                 "--run-name", "cut", "--save-trajectories", str(steps)])
    assert code == 130
    line = one_error_line(capsys)
    assert line.startswith("memr2 eval: interrupted: the 1 finished episode(s) are in ") and "partial marker" in line
    assert not list(out.glob("*.json"))  # nothing the leaderboard would read as a whole run
    partial = json.loads((out / "cut.json.partial").read_text())
    assert partial["seeds"] == [0] and len(partial["episodes"]) == 1 and partial["metrics"]["count"] > 0
    lines = [json.loads(line) for line in steps.read_text().splitlines()]
    assert lines[-1] == {"partial": True, "episodes_finished": 1}
    assert {line["episode"] for line in lines[:-1]} == {0}


def test_ctrl_c_before_the_episodes_is_one_line_and_exit_130(tmp_path, capsys, agents_file):
    assert main([*SYNTHETIC, "--agent", f"{agents_file}:slow_to_build", "--output-dir", str(tmp_path / "out")]) == 130
    assert one_error_line(capsys) == "memr2 eval: interrupted"


def test_a_complete_run_writes_no_partial_marker(tmp_path):
    steps = tmp_path / "steps.jsonl"
    assert main([*SYNTHETIC, "--agent", "store-all", "--output-dir", str(tmp_path), "--save-trajectories",
                 str(steps), "--run-name", "whole"]) == 0
    assert all("partial" not in json.loads(line) for line in steps.read_text().splitlines())
    assert Path(tmp_path / "whole.json").is_file() and not list(tmp_path.glob("*.partial"))
