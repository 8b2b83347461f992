"""``memr2 envs`` and ``memr2 play``, run as a new user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memr2.cli import main

ROOT = Path(__file__).resolve().parents[1]


def rows(output: str) -> list[list[str]]:
    """The body rows of a rich table (its header uses a heavier bar); cells split on the vertical bar."""
    return [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines() if "│" in line]


def test_envs_lists_every_registered_id_with_a_description(capsys):
    assert main(["envs"]) == 0
    table = {row[0]: row[1] for row in rows(capsys.readouterr().out)}
    assert set(table) >= {"MemoryR2/Synthetic-v0", "MemoryR2/LoCoMo-v0"}
    assert all(len(description) > 20 for description in table.values())


@pytest.mark.parametrize("agent, score", [("oracle", 1.0), ("no-memory", 0.0)])
def test_play_prints_one_row_per_episode_and_a_mean(capsys, agent, score):
    assert main(["play", "--agent", agent, "--episodes", "2", "--seed", "5", "--max-sessions", "8"]) == 0
    out = capsys.readouterr().out
    assert "episode" in out and "tokens" in out and "invalid" in out and "wall s" in out
    body = rows(out)
    assert [row[0] for row in body] == ["0", "1", "mean"]
    assert [row[1] for row in body[:2]] == ["5", "6"]
    assert all(float(row[3]) == score for row in body)
    entries = [int(row[5]) for row in body[:2]]
    assert (min(entries) > 0) == (agent == "oracle")


def test_play_store_all_is_below_oracle_and_larger(capsys):
    args = ["play", "--episodes", "1", "--max-sessions", "16", "--seed", "3"]
    main([*args, "--agent", "oracle"])
    oracle = rows(capsys.readouterr().out)[0]
    main([*args, "--agent", "store-all"])
    store = rows(capsys.readouterr().out)[0]
    assert float(store[3]) < float(oracle[3]) and int(store[6]) > int(oracle[6])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["play", "--agent", "no-such-agent"], "unknown agent"),
        (["play", "--env", "MemoryR2/Synthetic-v0", "--agent", "oracle", "--env-kwargs", '{"privileged": false}'], "gold"),
        (["play", "--env-kwargs", "[1]"], "JSON object"),
        (["play", "--episodes", "0"], "--episodes"),
    ],
)
def test_play_reports_bad_input_as_an_error_not_a_traceback(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_runs_play_like_the_readme():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "memr2", "play", "--env", "MemoryR2/Synthetic-v0", "--agent", "store-all",
               "--episodes", "1", "--seed", "0"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "MemoryR2/Synthetic-v0 / store-all" in done.stdout and "mean" in done.stdout
