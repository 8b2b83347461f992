"""The third-party agent of docs/agents.md, run exactly as documented: ``memr2 eval --agent my_agent:make_agent``."""

from __future__ import annotations

import json
from pathlib import Path

from memr2.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_documented_custom_agent_runs_through_memr2_eval(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    code = main(["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", "my_agent:make_agent", "--episodes", "2",
                 "--output-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert result["agent"] == "my_agent:make_agent" and result["invalid_actions"] == 0
    assert result["memory"]["entries"] > 0 and 0.0 < result["metrics"]["score"] <= 1.0


def test_docs_show_the_example_file_verbatim():
    example = (EXAMPLES / "my_agent.py").read_text()
    docs = (EXAMPLES.parent / "agents.md").read_text()
    body = example[example.index("class KeepStatements"):].strip()
    assert body in docs
    assert "memr2 eval --env MemoryR2/Synthetic-v0 --agent my_agent:make_agent" in docs
