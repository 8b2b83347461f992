"""``memr2 eval`` (result JSON schema, baselines ordered) and ``memr2 data locomo`` (download + sha256 check)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from memenv.data.locomo import DEV_PATH
from memr2.cli import main
from memr2.results import RunResult, read_result, write_result

REQUIRED = {
    "kind", "env_id", "env_kwargs", "agent", "model", "scorer", "seeds", "metrics", "memory",
    "invalid_actions", "wall_time_s", "version", "commit", "records",
}


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    """Tests use the embedded dev subset even where the user set MEMR2_LOCOMO_PATH."""
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def run_eval(tmp_path: Path, agent: str, *extra: str) -> dict:
    out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    code = main(["eval", "--env", "MemoryR2/LoCoMo-v0", "--agent", agent, "--conversations", "conv-26",
                 "--max-sessions", "2", "--seed", "3", "--output-dir", str(out), "--no-progress", *extra])
    assert code == 0
    (path,) = out.glob("*.json")
    return json.loads(path.read_text())


def test_eval_writes_schema_and_store_all_beats_no_memory(tmp_path, capsys):
    store_all = run_eval(tmp_path, "store-all")
    no_memory = run_eval(tmp_path, "no-memory")
    top1 = run_eval(tmp_path, "store-all", "--scorer-kwargs", '{"top_k": 1}', "--run-name", "top1")
    assert top1["env_kwargs"]["scorer_kwargs"] == {"top_k": 1}
    assert all(len(r["retrieved"]) <= 1 for r in top1["records"])
    assert top1["metrics"]["score"] < store_all["metrics"]["score"]
    printed = capsys.readouterr().out
    assert "single-hop" in printed and "overall" in printed
    for result in (store_all, no_memory):
        assert REQUIRED <= set(result)
        RunResult.model_validate(result)
        assert result["kind"] == "eval" and result["env_id"] == "MemoryR2/LoCoMo-v0"
        assert result["env_kwargs"] == {"max_sessions": 2} and result["scorer"] == "recall"  # the env default
        assert result["scorer"] == "recall" and result["seeds"] == [3]
        assert result["version"] == "0.1.0"
        assert result["commit"] is None or len(result["commit"]) == 40
        metrics = result["metrics"]
        per_category = metrics["per_category"]
        assert set(per_category) <= {"multi-hop", "temporal", "open-domain", "single-hop"}
        assert sum(c["count"] for c in per_category.values()) == metrics["count"] == len(result["records"]) == 15
        assert all(r["conversation_id"] == "conv-26" and r["session"] <= 2 for r in result["records"])
        mean = sum(r["score"] for r in result["records"]) / len(result["records"])
        assert metrics["score"] == pytest.approx(mean)
    assert store_all["metrics"]["score"] > no_memory["metrics"]["score"] == 0.0
    assert store_all["memory"]["entries"] == 35 and store_all["memory"]["tokens"] > 0  # 18 + 17 turns
    assert no_memory["memory"] == {"entries": 0, "tokens": 0}
    assert store_all["invalid_actions"] == 0


def test_eval_rejects_unknown_conversation_and_bad_json(tmp_path, capsys):
    assert main(["eval", "--agent", "store-all", "--conversations", "conv-99", "--output-dir", str(tmp_path)]) == 2
    assert "conv-99" in capsys.readouterr().err
    assert main(["eval", "--agent", "store-all", "--env-kwargs", "[1]", "--output-dir", str(tmp_path)]) == 2
    assert not list(tmp_path.glob("*.json"))


def test_write_result_is_atomic_and_round_trips(tmp_path):
    result = RunResult(kind="eval", env_id="MemoryR2/LoCoMo-v0", agent="x", scorer="recall", seeds=[0],
                       metrics={"score": 0.5, "per_category": {"temporal": {"mean": 0.5, "count": 2}}},
                       memory={"entries": 1, "tokens": 2}, invalid_actions=0, wall_time_s=0.1, version="0.1.0")
    path = write_result(result, tmp_path / "deep" / "dir")
    assert path.name.startswith("MemoryR2-LoCoMo-v0__x__0__")
    assert read_result(path).metrics.per_category["temporal"].count == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_data_locomo_downloads_and_verifies(tmp_path, capsys):
    digest = hashlib.sha256(DEV_PATH.read_bytes()).hexdigest()
    out = tmp_path / "data" / "locomo.json"
    assert main(["data", "locomo", "--out", str(out), "--url", DEV_PATH.as_uri(), "--sha256", digest]) == 0
    assert out.read_bytes() == DEV_PATH.read_bytes()
    printed = capsys.readouterr().out
    assert "sha256 verified" in printed and "3 conversations, 70 sessions, 1451 turns, 497 questions" in printed
    assert main(["data", "locomo", "--out", str(out), "--url", DEV_PATH.as_uri(), "--sha256", digest]) == 0
    assert "already present" in capsys.readouterr().out


def test_data_locomo_checksum_mismatch_deletes_partial(tmp_path, capsys):
    out = tmp_path / "locomo.json"
    assert main(["data", "locomo", "--out", str(out), "--url", DEV_PATH.as_uri(), "--sha256", "0" * 64]) == 1
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and "deleted" in err
    assert list(tmp_path.iterdir()) == []
    missing = (tmp_path / "nope.json").as_uri()
    assert main(["data", "locomo", "--out", str(out), "--url", missing]) == 1
    assert "failed" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_eval_episodes_by_seed_with_a_factory_agent(tmp_path):
    code = main(["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", "agents.mem0_like:Mem0Like", "--scorer", "rule",
                 "--episodes", "2", "--max-sessions", "8", "--seed", "5", "--output-dir", str(tmp_path),
                 "--run-name", "synthetic-mem0", "--no-progress"])
    assert code == 0
    result = read_result(tmp_path / "synthetic-mem0.json")
    assert result.seeds == [5, 6] and len(result.episodes) == 2
    assert result.agent == "agents.mem0_like:Mem0Like" and result.scorer == "rule"
    assert result.metrics.count == len(result.records) > 0
