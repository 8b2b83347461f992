"""``memr2 eval --agent llm`` says what it will run and how long it may take before it starts, and can be limited
(``--max-sessions``, ``--max-questions``) so a newcomer on CPU is never left waiting silently."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from memr2.cli import main


def test_llm_eval_prints_a_measured_eta_first_and_honours_the_limits(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)
    code = main(["eval", "--agent", "llm", "--model", "tiny", "--agent-kwargs", '{"max_new_tokens": 8}',
                 "--conversations", "conv-26", "--max-sessions", "1", "--max-questions", "2",
                 "--output-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("plan: 1 conversation(s), 2 agent steps, then 2 questions. Measured ")
    assert "tokens/s, so the agent takes at most ~" in printed and "(8 new tokens per step)" in printed
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert result["metrics"]["count"] == len(result["records"]) == 2
    assert result["env_kwargs"] == {"max_sessions": 1, "max_questions": 2}


def test_max_questions_keeps_the_first_questions_the_sessions_can_answer():
    full = gym.make("MemoryR2/LoCoMo-v0", max_sessions=2)
    capped = gym.make("MemoryR2/LoCoMo-v0", max_sessions=2, max_questions=3)
    for env in (full, capped):
        env.reset(seed=0, options={"conversation": "conv-26"})
    questions = full.unwrapped.conversation.questions
    assert len(questions) > 3 and capped.unwrapped.conversation.questions == questions[:3]
    with pytest.raises(ValueError, match="max_questions must be >= 1"):
        gym.make("MemoryR2/LoCoMo-v0", max_questions=0)
