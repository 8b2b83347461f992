"""``module:attr`` specs must name the expected kind before anything is called (issue 14, defect 10)."""

import pytest

from agents.registry import make_agent
from memenv.envs.conversations import ConversationsEnv
from memenv.scoring.base import make_scorer
from memenv.scoring.llm import LLMScorer


@pytest.mark.parametrize("spec", ["os:system", "builtins:print", "os:environ", "memenv.scoring.base:summarize"])
def test_a_scorer_spec_of_the_wrong_kind_is_refused_before_any_call(tmp_path, spec):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="not usable as the scorer"):
        make_scorer(spec, command=f"touch {marker}")
    assert not marker.exists()


def test_env_kwargs_cannot_run_a_shell_command(tiny_conversation, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="not usable as the scorer"):
        ConversationsEnv([tiny_conversation], scorer="os:system", scorer_kwargs={"command": f"touch {marker}"})
    assert not marker.exists()


def test_agent_and_answerer_specs_are_checked_too(tmp_path):
    with pytest.raises(ValueError, match="not usable as the agent factory"):
        make_agent("os:system", command="true")
    with pytest.raises(ValueError, match="not usable as the answerer"):
        LLMScorer(answerer="os:system", answerer_kwargs={"command": "true"})


def test_good_specs_still_resolve():
    assert make_scorer("memenv.scoring.recall:RecallScorer").name
    assert callable(make_agent("agents.baselines:NoMemory").act)
