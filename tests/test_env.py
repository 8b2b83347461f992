"""MemoryEnv contract on a hand-written conversation: phases, info keys, rewards, penalties, bad actions."""

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import memenv
from memenv.actions import AddOp, ManageAction
from memenv.envs.conversations import ConversationsEnv
from memenv.registration import ENVS
from memenv.views import parse_view


def _play(env, actions):
    out = []
    for action in actions:
        out.append(env.step(action))
    return out


def test_check_env_passes(tiny_conversation):
    check_env(ConversationsEnv([tiny_conversation], chunks_per_session=2), skip_render_check=True)


def test_phases_views_and_info_keys(tiny_conversation):
    env = ConversationsEnv([tiny_conversation])
    obs, info = env.reset(seed=0)
    assert obs["role"] == 0 and obs["session"] == 1
    assert parse_view(obs) == info["view"] and json.loads(obs["text"]) == info["view"].model_dump(mode="json")
    assert {"role", "session", "chunk", "session_end", "view"} <= info.keys()
    assert [t.dia_id for t in info["view"].turns] == ["D1:1", "D1:2"]
    obs, reward, term, trunc, info = env.step("- Alice: lives in Oslo\n- Bob plays the guitar")
    assert obs["role"] == 1 and info["role"] == "manager" and reward == 0.0
    facts = info["view"].facts
    assert [f.dia_ids for f in facts] == [("D1:1",), ("D1:2",)]  # attributed from the chunk's turns
    obs, reward, term, trunc, info = env.step("ADD: Alice lives in Oslo\nADD: Bob plays the guitar")
    assert info["session_end"] and not term and info["session"] == 2
    env.step("- Alice moved to Rome")
    obs, reward, term, trunc, info = env.step("UPDATE m1: Alice lives in Rome")
    assert term and not trunc
    assert {"qa", "metrics", "session_rewards"} <= info.keys()
    assert info["metrics"]["score"] == 1.0 and info["session_rewards"] == [1.0, 1.0]
    assert env.bank.get("m1").dia_ids == ("D1:1", "D2:1")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("NOOP")


def test_terminal_reward_subtracts_compression_penalty(tiny_conversation):
    env = ConversationsEnv([tiny_conversation], compression_coef=0.3)
    env.reset(seed=0)
    turns = "I live in Oslo now. Nice, I play the guitar. I moved to Rome last week. padding padding padding"
    results = _play(env, ["- x", f"ADD: {turns}", "- y", "NOOP"])
    reward, info = results[-1][1], results[-1][4]
    dialogue = 5 + 5 + 6
    bank_tokens = len(turns.split())
    expected_penalty = 0.3 * max(0, bank_tokens - 0.7 * dialogue) / dialogue
    assert info["compression_penalty"] == pytest.approx(expected_penalty)
    assert reward == pytest.approx(info["metrics"]["score"] - expected_penalty)
    assert sum(r[1] for r in results[:-1]) == 0.0


def test_session_reward_scores_questions_seen_so_far(tiny_conversation):
    env = ConversationsEnv([tiny_conversation], reward_mode="session", compression_coef=0.0)
    env.reset(seed=0)
    results = _play(env, ["- Bob plays the guitar", "ADD: Bob plays the guitar", "- nothing", "NOOP"])
    assert results[1][1] == 1.0  # only the guitar question is answerable after session 1
    assert results[3][1] == 0.5  # at the end: guitar yes, Rome no
    assert env.score("all")["score"] == 0.5


def test_invalid_parts_are_penalised_and_leave_the_bank_unchanged(tiny_conversation):
    env = ConversationsEnv([tiny_conversation], invalid_action_penalty=-0.25)
    env.reset(seed=0)
    env.step("- fact")
    before = env.bank
    _, reward, _, _, info = env.step("UPDATE m5: nope\nADD: Bob plays the guitar\nDELETE m9")
    assert reward == -0.25 and info["invalid_ops"] == 2
    assert "m5" in info["error"] and "m9" in info["error"]
    assert [e.content for e in env.bank] == ["Bob plays the guitar"] and len(before) == 0
    env.step(ManageAction(operations=(AddOp(content="wrong phase"),)))  # a manager action at the extractor step
    _, reward, _, _, info = env.step("{'operations': []}")
    assert reward == pytest.approx(-0.25 + info["metrics"]["score"] - info["compression_penalty"])
    assert "double-quoted" in info["error"]
    assert len(env.bank) == 1 and env.invalid_actions == 3


def test_clone_is_independent_and_state_round_trips(tiny_conversation):
    env = ConversationsEnv([tiny_conversation])
    env.reset(seed=3)
    env.step("- Alice lives in Oslo")
    fork = env.clone()
    env.step("ADD: Alice lives in Oslo")
    assert len(env.bank) == 1 and len(fork.bank) == 0 and fork.role == "manager"
    state = json.loads(env.get_state().model_dump_json())
    other = ConversationsEnv([tiny_conversation])
    other.reset(seed=99)
    other.set_state(state)
    a = _play(env, ["- Alice moved to Rome", "UPDATE m1: Alice lives in Rome"])
    b = _play(other, ["- Alice moved to Rome", "UPDATE m1: Alice lives in Rome"])
    assert [(r[0], r[1], r[2]) for r in a] == [(r[0], r[1], r[2]) for r in b]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_sessions": 0}, "max_sessions"),
        ({"chunks_per_session": 0}, "chunks_per_session"),
        ({"reward_mode": "dense"}, "reward_mode"),
        ({"scorer": "nope"}, "unknown scorer"),
        ({"conversation": "missing"}, "unknown conversation"),
    ],
)
def test_bad_config_gives_clear_errors(tiny_conversation, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConversationsEnv([tiny_conversation], **kwargs)


def test_every_env_id_is_registered_and_described():
    assert set(ENVS) <= set(gym.registry)
    assert memenv.__version__


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_registered_envs_pass_check_env_and_are_deterministic(env_id):
    env = gym.make(env_id, max_sessions=2)
    check_env(env.unwrapped, skip_render_check=True)

    def rollout(seed):
        obs, info = env.reset(seed=seed)
        trace, done = [obs["text"]], False
        while not done:
            action = "- " + info["view"].turns[0].text if info["role"] == "extractor" and info["view"].turns else "ADD: note"
            obs, reward, term, trunc, info = env.step(action)
            trace.append((obs["text"], reward))
            done = term or trunc
        return trace

    assert rollout(7) == rollout(7)


def test_memenv_import_path_stays_free_of_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym, memenv, memenv.multiagent, memenv.scoring.llm\n"
        "env = gym.make('MemoryR2/LoCoMo-v0', max_sessions=1); env.reset(seed=0)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_privilege_is_said_once_per_env_id():
    """memenv.registration.PRIVILEGES says which kwarg makes each env id privileged (LoCoMo-v0 keeps its published
    ``observation_gold``) and whether that gives ``gold_facts``: eval, play, results and the trainer all read it."""
    from memenv.registration import PRIVILEGES, is_privileged_env, privileged_kwargs

    assert set(PRIVILEGES) == set(ENVS)
    assert privileged_kwargs("MemoryR2/LoCoMo-v0") == {"observation_gold": True}
    assert privileged_kwargs("MemoryR2/LoCoMo-v0", gold_facts=True) == {}  # the trainer's diagnostic needs facts
    assert privileged_kwargs("my.pkg:Env") == {}
    kwargs = privileged_kwargs("MemoryR2/Synthetic-v1", gold_facts=True)
    assert kwargs == {"privileged": True} and is_privileged_env("MemoryR2/Synthetic-v1", kwargs)
    _, info = gym.make("MemoryR2/Synthetic-v1", **kwargs).reset(seed=0)
    assert "gold_facts" in info and "gold" in info
