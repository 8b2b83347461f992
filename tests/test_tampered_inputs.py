"""Issue 19, item 7: inputs a user may get from someone else -- a study YAML, a saved env state -- are checked
against the same limits as everything else. Each test fails at 6a013e2."""

import json

import pytest

from memenv.actions import MAX_ACTION_ITEMS
from memenv.envs.conversations import ConversationsEnv
from memr2.study import StudyConfig


def test_a_billion_laughs_study_yaml_is_refused_at_once(tmp_path):
    """It hung ``memr2 study --dry-run``: each level of aliases multiplies the nodes by ten."""
    levels = ["a0: &a0 [logo, logo, logo, logo, logo, logo, logo, logo, logo, logo]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "study.yaml"
    path.write_text("\n".join(levels) + "\nstudy:\n  name: bomb\n  estimators: *a8\n")
    with pytest.raises(ValueError, match=r"study.yaml: line 2: the alias \*a0 is refused"):
        StudyConfig.from_file(path)


def test_the_committed_study_configs_still_load():
    assert StudyConfig.from_file("configs/study-synthetic-v1.yaml").name == "v1study"


@pytest.fixture
def env(tiny_conversation):
    env = ConversationsEnv([tiny_conversation])
    env.reset(seed=0)
    env.step("- Alice lives in Oslo.")
    env.step("ADD: Alice lives in Oslo.")
    return env


def _tampered(env, change) -> dict:
    state = json.loads(env.get_state().model_dump_json())
    change(state)
    return state


def _pending_facts(state, count):
    state.update(role="manager", facts=[{"fact": f"fact {i}"} for i in range(count)], related=[[]] * count)


TAMPERINGS = {
    "question past the last session": (
        lambda s: s["conversation"]["questions"].append({**s["conversation"]["questions"][0], "session": 9}),
        "about session 9, past the last session"),
    "4.75 MB entry": (lambda s: s["bank"]["entries"][0].update(content="x" * 4_750_000),
                      "a bank entry is over the limits of an action: memory m1: content"),
    "huge speaker": (lambda s: s["bank"]["entries"][0].update(speaker="S" * 500), "memory m1: speaker"),
    "too many pending facts": (lambda s: _pending_facts(s, MAX_ACTION_ITEMS + 1), f"at most {MAX_ACTION_ITEMS}"),
    "more sessions than the env plays": (
        lambda s: s["conversation"].update(sessions=s["conversation"]["sessions"] * 3), "this env plays at most"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_a_tampered_state_over_the_limits_is_a_clear_error(env, name):
    change, message = TAMPERINGS[name]
    before = env.get_state()
    with pytest.raises(ValueError, match=message):
        env.set_state(_tampered(env, change))
    assert env.get_state() == before
