"""`set_state` checks the whole state before touching the env (issue 14, defect 4); reward arguments are finite (defect 8)."""

import json

import gymnasium as gym
import pytest

import memenv  # noqa: F401  (registers the env ids)
from memenv.envs.conversations import ConversationsEnv


@pytest.fixture
def env(tiny_conversation):
    env = ConversationsEnv([tiny_conversation])
    env.reset(seed=0)
    env.step("- Alice lives in Oslo.")
    env.step("ADD: Alice lives in Oslo.\nADD: Bob plays the guitar.\nADD: Bob is tall.")
    env.step("- Alice moved to Rome.")
    assert env.role == "manager" and env.pending_facts
    return env


def _tampered(state: dict, change) -> dict:
    state = json.loads(json.dumps(state))
    change(state)
    return state


def _entries(state):
    return state["bank"]["entries"]


TAMPERINGS = {
    "next_id not above every id": (lambda s: s["bank"].update(next_id=1), "next_id"),
    "duplicate ids": (lambda s: _entries(s).append(dict(_entries(s)[0])), "duplicate"),
    "id not m<N>": (lambda s: _entries(s)[0].update(memory_id="m\u00b2"), "m<N>"),
    "id m0": (lambda s: _entries(s)[0].update(memory_id="m0"), "m<N>"),
    "negative session": (lambda s: s.update(session=-1), "session"),
    "session past the end": (lambda s: s.update(session=2), "session"),
    "chunk out of range": (lambda s: s.update(chunk=1), "chunk"),
    "related id not in the bank": (lambda s: s["related"][0].append("m99"), "m99"),
    "facts for the extractor": (lambda s: s.update(role="extractor"), "manager"),
    "related not one list per fact": (lambda s: s.update(related=[]), "related"),
    "bad rng_state": (lambda s: s.update(rng_state={"bit_generator": "PCG64", "state": "garbage"}), "rng_state"),
    "more invalid actions than steps": (lambda s: s.update(invalid_actions=9), "invalid_actions"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_a_tampered_state_is_refused_and_leaves_the_env_as_it_was(env, name):
    change, message = TAMPERINGS[name]
    before = env.get_state()
    with pytest.raises(ValueError, match=message):
        env.set_state(_tampered(before.model_dump(mode="json"), change))
    assert env.get_state() == before
    assert env.step("ADD: Bob moved.")[4].get("error") is None and "m4" in env.bank


def test_locomo_cursor_is_saved_and_restored():
    """LoCoMo's unseeded resets cycle through conversations; the cursor is part of the state."""
    env = gym.make("MemoryR2/LoCoMo-v0", max_sessions=1).unwrapped
    env.reset(seed=1)
    state = env.get_state()
    first = env.reset()[1]["view"].speakers, env.conversation.conversation_id
    env.reset()
    env.set_state(state)
    assert (env.reset()[1]["view"].speakers, env.conversation.conversation_id) == first
    with pytest.raises(ValueError, match="cursor"):
        env.set_state(_tampered(state.model_dump(mode="json"), lambda s: s["dataset"].update(cursor=99)))


@pytest.mark.parametrize("kwargs, message", [
    ({"compression_coef": float("inf")}, "compression_coef"),
    ({"compression_coef": float("nan")}, "compression_coef"),
    ({"invalid_action_penalty": float("nan")}, "invalid_action_penalty"),
    ({"invalid_action_penalty": -float("inf")}, "invalid_action_penalty"),
])
def test_non_finite_reward_arguments_are_refused(tiny_conversation, kwargs, message):
    """Issue 14, defect 8: ``compression_coef: 1e999`` or a NaN penalty gave NaN rewards."""
    with pytest.raises(ValueError, match=message):
        ConversationsEnv([tiny_conversation], **kwargs)
