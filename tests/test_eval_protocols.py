"""``memr2 eval --protocol``, the provenance every result records, ``--save-trajectories``, and unique run files."""

from __future__ import annotations

import json
import threading

import pytest

from memr2.cli import main
from memr2.protocols import PROTOCOLS
from memr2.results import Metrics, RunResult, is_privileged, read_result, write_result


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def test_leaderboard_protocols_are_the_documented_ones():
    synthetic, dev = PROTOCOLS["synthetic-v0-32"], PROTOCOLS["locomo-dev"]
    assert (synthetic.env_id, synthetic.episodes, synthetic.seed, synthetic.env_kwargs, synthetic.scorer) == (
        "MemoryR2/Synthetic-v0", 5, 100000, {"max_sessions": 32}, "rule")
    assert (dev.env_id, dev.episodes, dev.seed, dev.scorer) == ("MemoryR2/LoCoMo-v0", None, 0, "recall")


def test_protocol_run_records_command_protocol_versions_and_privilege(tmp_path):
    argv = ["eval", "--protocol", "locomo-dev", "--agent", "no-memory", "--output-dir", str(tmp_path),
            "--run-name", "dev-no-memory", "--no-progress"]
    assert main(argv) == 0
    result = read_result(tmp_path / "dev-no-memory.json")
    assert result.command == "memr2 " + " ".join(argv)
    assert result.protocol == "locomo-dev" and result.env_id == "MemoryR2/LoCoMo-v0"
    assert result.seeds == [0, 1, 2] and len({e.conversation_id for e in result.episodes}) == 3
    assert result.env_kwargs == {"scorer": "recall"} and result.privileged is False
    assert {"python", "memory-r2", "gymnasium", "pydantic"} <= set(result.versions)


def test_an_eval_without_protocol_records_none(tmp_path):
    assert main(["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", "store-all", "--max-sessions", "1",
                 "--output-dir", str(tmp_path), "--run-name", "free", "--no-progress"]) == 0
    result = read_result(tmp_path / "free.json")
    assert result.protocol is None and result.seeds == [0] and "--max-sessions 1" in result.command


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "3"], "--seed is fixed by --protocol synthetic-v0-32"),
        (["--max-sessions", "8"], "--max-sessions is fixed by --protocol synthetic-v0-32"),
        (["--env", "MemoryR2/LoCoMo-v0"], "--env is fixed by --protocol synthetic-v0-32"),
        (["--env-kwargs", '{"num_entities": 2}'], "--env-kwargs ['num_entities'] would change what --protocol"),
    ],
)
def test_flags_that_change_a_protocol_are_refused(extra, message, tmp_path, capsys):
    assert main(["eval", "--protocol", "synthetic-v0-32", "--agent", "store-all", "--output-dir", str(tmp_path),
                 *extra]) == 2
    assert message in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_a_protocol_pinned_to_a_data_file_refuses_another(tmp_path, capsys, monkeypatch):
    from memenv.data.locomo import DEV_PATH

    assert main(["eval", "--protocol", "locomo10", "--agent", "no-memory", "--data-path", str(DEV_PATH),
                 "--output-dir", str(tmp_path)]) == 2
    assert "--protocol locomo10 needs the LoCoMo file with sha256 79fa87e90f04" in capsys.readouterr().err
    assert main(["eval", "--protocol", "nope", "--agent", "no-memory"]) == 2
    assert "unknown protocol 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("agent", "env_id", "env_kwargs", "privileged"),
    [("oracle", "MemoryR2/LoCoMo-v0", {}, True),
     ("store-all", "MemoryR2/LoCoMo-v0", {"observation_gold": True}, True),
     ("store-all", "MemoryR2/Synthetic-v1", {"privileged": True}, True),
     ("store-all", "MemoryR2/LoCoMo-v0", {"observation_gold": False}, False),
     ("store-all", "MemoryR2/LoCoMo-v0", {"privileged": True}, False),  # not LoCoMo's privileging kwarg
     ("store-all", "MemoryR2/Synthetic-v1", {"observation_gold": True}, False),
     ("store-all", "my.pkg:Env", {"observation_gold": True}, True),  # an unlisted env: either name counts
     ("mem0-like", "MemoryR2/LoCoMo-v0", {}, False)],
)
def test_privileged_runs_are_flagged(agent, env_id, env_kwargs, privileged):
    assert is_privileged(agent, env_id, env_kwargs) is privileged


def test_save_trajectories_writes_every_step_with_raw_and_parsed_actions_and_errors(tmp_path):
    agent_file = tmp_path / "clumsy.py"
    agent_file.write_text(
        "class Clumsy:\n"
        "    def act(self, observation, info):\n"
        "        return '- I like tea' if info['role'] == 'extractor' else 'ADD: I like tea\\nDELETE m999'\n"
        "def make():\n    return Clumsy()\n"
    )
    steps = tmp_path / "out" / "steps.jsonl"
    assert main(["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", f"{agent_file}:make", "--episodes", "2",
                 "--max-sessions", "2", "--output-dir", str(tmp_path / "out"), "--run-name", "clumsy",
                 "--save-trajectories", str(steps), "--no-progress"]) == 0
    lines = [json.loads(line) for line in steps.read_text().splitlines()]
    result = read_result(tmp_path / "out" / "clumsy.json")
    assert len(lines) == sum(e.steps for e in result.episodes) == 2 * 2 * 2  # episodes x sessions x roles
    assert [line["episode"] for line in lines] == [0] * 4 + [1] * 4
    assert [line["seed"] for line in lines[::4]] == result.seeds
    extract, manage = lines[0], lines[1]
    assert extract["role"] == "extractor" and extract["view"]["turns"] and extract["error"] is None
    assert extract["action"] == "- I like tea" and extract["parsed"]["facts"][0]["fact"] == "I like tea"
    assert manage["role"] == "manager" and manage["action"] == "ADD: I like tea\nDELETE m999"
    assert [op["op"] for op in manage["parsed"]["operations"]] == ["ADD", "DELETE"]
    assert "m999" in manage["error"] and manage["reward"] <= -0.1
    assert sum(line["error"] is not None for line in lines) == result.invalid_actions == 4
    assert lines[-1]["terminated"] and lines[-1]["metrics"]["score"] == result.episodes[-1].score


def _result() -> RunResult:
    return RunResult(kind="eval", env_id="MemoryR2/Synthetic-v0", agent="store-all", scorer="rule", seeds=[0],
                     metrics={"score": 0.5}, memory={"entries": 1, "tokens": 2}, invalid_actions=0,
                     wall_time_s=0.1, version="0.1.0", created_at="2026-01-01T00:00:00+00:00")


def test_concurrent_writes_with_one_default_name_keep_every_result(tmp_path):
    """Runs started in the same second share a default name; each must get its own file (issue 14, item 6)."""
    writers, barrier, paths = 8, threading.Barrier(8), []

    def write(score: float) -> None:
        barrier.wait()
        paths.append(write_result(_result().model_copy(update={"metrics": Metrics(score=score)}), tmp_path))

    threads = [threading.Thread(target=write, args=(i / 10,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == writers == len(list(tmp_path.glob("*.json")))
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    results = [read_result(path) for path in paths]
    assert sorted(r.metrics.score for r in results) == [i / 10 for i in range(writers)]
    assert all(r.run_name == path.stem for r, path in zip(results, paths))
    stems = sorted(path.stem for path in paths)
    assert stems[0] == "MemoryR2-Synthetic-v0__store-all__0__20260101T000000"
    assert stems[1:] == sorted(f"{stems[0]}-{i}" for i in range(2, writers + 1))


def test_an_explicit_run_name_replaces_its_file(tmp_path):
    first = write_result(_result().model_copy(update={"run_name": "mine"}), tmp_path)
    second = write_result(_result().model_copy(update={"run_name": "mine", "metrics": Metrics(score=0.9)}), tmp_path)
    assert first == second == tmp_path / "mine.json" and read_result(first).metrics.score == 0.9


def test_docs_list_every_protocol():
    """Issue 21 item 12: docs/leaderboard.md listed 4 of the 8 protocols."""
    from pathlib import Path

    from memr2.protocols import PROTOCOLS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "leaderboard.md").read_text()
    table = docs.split("| protocol | environment |")[1].split("```")[0]
    rows = [line for line in table.splitlines() if line.strip().startswith("| `")]
    assert sorted(line.split("`")[1] for line in rows) == sorted(PROTOCOLS)


def test_the_privileged_agent_names_are_the_built_ins_whose_class_reads_gold():
    """Result files are checked by agent name (nothing in them is imported); the names must be exactly the built-in
    agents whose class declares ``privileged = True``."""
    from agents.registry import AGENTS, PRIVILEGED_AGENTS, agent_factory

    reads_gold = {name for name in AGENTS if getattr(agent_factory(name), "privileged", False)}
    assert reads_gold == PRIVILEGED_AGENTS
