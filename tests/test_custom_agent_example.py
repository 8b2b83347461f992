"""Third-party agents through the real ``memr2`` console script, run the way docs/agents.md documents it.

The console script (unlike ``python -m``) does not put the working directory on ``sys.path``, so these tests run
it in a subprocess from a temporary directory: an in-process ``main()`` under pytest would find the module for
the wrong reason (pytest's own ``sys.path`` entries).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from memenv.objects import LoadError, load_object

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
MEMR2 = Path(sysconfig.get_path("scripts")) / "memr2"


def run_memr2(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    assert MEMR2.is_file(), f"console script not installed at {MEMR2} (run `make install`)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMR2_LOCOMO_PATH")}
    return subprocess.run([str(MEMR2), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def eval_args(agent: str, out: str) -> list[str]:
    return ["eval", "--env", "MemoryR2/Synthetic-v0", "--agent", agent, "--episodes", "1", "--max-sessions", "2",
            "--output-dir", out, "--no-progress"]


def test_console_script_finds_a_module_in_the_working_directory_and_a_file_path(tmp_path):
    project = tmp_path / "my_project"
    project.mkdir()
    shutil.copy(EXAMPLES / "my_agent.py", project / "my_agent.py")
    done = run_memr2(project, *eval_args("my_agent:make_agent", "out"))
    assert done.returncode == 0, done.stderr
    (path,) = (project / "out").glob("*.json")
    result = json.loads(path.read_text())
    assert result["agent"] == "my_agent:make_agent" and result["invalid_actions"] == 0
    assert result["memory"]["entries"] > 0 and 0.0 < result["metrics"]["score"] <= 1.0

    # the same file by path, from another directory (where `my_agent` is not importable)
    done = run_memr2(tmp_path, *eval_args("my_project/my_agent.py:make_agent", "out"))
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "out").glob("*.json")
    assert json.loads(path.read_text())["metrics"] == result["metrics"]


def test_console_script_reports_a_missing_agent_module_in_one_line(tmp_path):
    done = run_memr2(tmp_path, *eval_args("not_here:make_agent", "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("memr2 eval: error: cannot import 'not_here'") and str(tmp_path) in line


def test_loader_errors_name_what_to_fix(tmp_path, monkeypatch):
    (tmp_path / "helper_agent.py").write_text("import missing_dependency_xyz\n")
    (tmp_path / "good_agent.py").write_text("def make_agent():\n    return 'agent'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError, match="expected 'package.module:factory' or 'path/to/file.py:factory'"):
        load_object("good_agent")
    with pytest.raises(LoadError, match="no such file: 'nowhere/agent.py'"):
        load_object("nowhere/agent.py:make_agent")
    with pytest.raises(LoadError, match="importing .* failed: No module named 'missing_dependency_xyz'"):
        load_object(str(tmp_path / "helper_agent.py") + ":make_agent")
    with pytest.raises(LoadError, match="has no attribute 'make_agnt'; did you mean 'make_agent'"):
        load_object("good_agent.py:make_agnt")
    assert load_object("good_agent.py:make_agent")() == "agent"


def test_scorers_and_answerers_load_through_the_same_loader(tmp_path):
    from memenv.scoring.base import make_scorer
    from memenv.scoring.recall import RecallScorer

    (tmp_path / "my_scorer.py").write_text("from memenv.scoring.recall import RecallScorer as Mine\n")
    assert isinstance(make_scorer(f"{tmp_path}/my_scorer.py:Mine", top_k=2), RecallScorer)
    with pytest.raises(LoadError, match="has no attribute 'Nope'"):
        make_scorer(f"{tmp_path}/my_scorer.py:Nope")
    with pytest.raises(LoadError, match="cannot import 'no_such_answerer_module'"):
        make_scorer("llm", answerer="no_such_answerer_module:make", cache_dir=False)


def test_docs_show_the_example_file_verbatim():
    example = (EXAMPLES / "my_agent.py").read_text()
    docs = (EXAMPLES.parent / "agents.md").read_text()
    body = example[example.index("class KeepStatements"):].strip()
    assert body in docs
    assert "memr2 eval --env MemoryR2/Synthetic-v1 --agent my_agent:make_agent" in docs
    assert "--agent path/to/my_agent.py:make_agent" in docs
