"""MemoryR2/LoCoMo-v0: check_env, conversation choice, question filtering and an end-to-end episode."""

from __future__ import annotations

import doctest
import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import memenv  # noqa: F401  (registers the ids)
from memenv.data.locomo import DEV_PATH
from memenv.envs import locomo
from memenv.envs.locomo import LoCoMoEnv
from memenv.views import ExtractorView, ManagerView

ENV_ID = "MemoryR2/LoCoMo-v0"


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    """Tests use the embedded dev subset even where the user set MEMR2_LOCOMO_PATH."""
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def test_doctests():
    assert doctest.testmod(locomo).failed == 0


def test_check_env_default_kwargs():
    env = gym.make(ENV_ID)
    check_env(env.unwrapped)
    assert env.unwrapped.report.questions == 497


def test_resets_cycle_deterministically_by_seed():
    env = gym.make(ENV_ID, max_sessions=1)
    ids = lambda: env.unwrapped.conversation.conversation_id  # noqa: E731
    env.reset(seed=0)
    order = [ids()]
    for _ in range(3):
        env.reset()
        order.append(ids())
    assert order == ["conv-26", "conv-30", "conv-41", "conv-26"]
    env.reset(seed=4)
    assert ids() == "conv-30"
    obs_a, _ = env.reset(seed=7)
    obs_b, _ = gym.make(ENV_ID, max_sessions=1).reset(seed=7)
    assert obs_a["text"] == obs_b["text"]


def test_conversation_choice_by_kwarg_and_option():
    env = gym.make(ENV_ID, conversation="conv-41", max_sessions=1)
    env.reset(seed=0)
    assert env.unwrapped.conversation.conversation_id == "conv-41"
    env.reset(options={"conversation": "conv-30"})
    assert env.unwrapped.conversation.conversation_id == "conv-30"
    with pytest.raises(ValueError, match="unknown conversation"):
        gym.make(ENV_ID, conversation="conv-99")


def test_adversarial_questions_are_opt_in_and_truncation_keeps_answerable_ones():
    default = LoCoMoEnv()
    assert sum(len(c.questions) for c in default.conversations) == 497 - 112
    full = LoCoMoEnv(include_adversarial=True)
    assert sum(len(c.questions) for c in full.conversations) == 497
    env = LoCoMoEnv(conversation="conv-26", max_sessions=2)
    env.reset(seed=0)
    questions = env.conversation.questions
    assert questions and all(q.session <= 2 and q.category != "adversarial" for q in questions)


def test_data_path_and_env_var(tmp_path, monkeypatch):
    data = json.loads(DEV_PATH.read_text())[2:]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(data))
    assert [c.conversation_id for c in LoCoMoEnv(data_path=path).conversations] == ["conv-41"]
    monkeypatch.setenv("MEMR2_LOCOMO_PATH", str(path))
    assert [c.conversation_id for c in LoCoMoEnv().conversations] == ["conv-41"]


def store_turns(view: ExtractorView | ManagerView) -> dict:
    """Extractor: every turn as a fact; manager: ADD each fact (a store-everything policy)."""
    if isinstance(view, ExtractorView):
        facts = [{"speaker": t.speaker, "fact": t.text, "dia_ids": [t.dia_id]} for t in view.turns]
        return {"facts": facts}
    ops = [{"op": "ADD", "content": f.fact, "speaker": f.speaker, "dia_ids": list(f.dia_ids)} for f in view.facts]
    return {"operations": ops}


def do_nothing(view: ExtractorView | ManagerView) -> dict:
    return {"facts": []} if view.role == "extractor" else {"operations": []}


def run(env: gym.Env, policy) -> tuple[list[float], dict]:
    _, info = env.reset(seed=0)
    rewards, terminated = [], False
    while not terminated:
        _, reward, terminated, truncated, info = env.step(policy(info["view"]))
        rewards.append(reward)
        assert not truncated
    return rewards, info


def test_episode_store_everything_beats_empty_bank_and_attributes_sessions():
    kwargs = dict(conversation="conv-30", max_sessions=3, chunks_per_session=2, reward_mode="session")
    rewards, info = run(gym.make(ENV_ID, **kwargs), store_turns)
    assert len(rewards) == 3 * 2 * 2
    assert info["metrics"]["count"] == len(info["qa"]) > 0
    assert info["metrics"]["m_fail"] == 0.0
    assert len(info["session_rewards"]) == 3
    assert all(r["category"] != "adversarial" for r in info["qa"])
    _, empty = run(gym.make(ENV_ID, **kwargs), do_nothing)
    assert empty["metrics"]["score"] == 0.0 and empty["metrics"]["m_fail"] == 1.0
    assert info["metrics"]["score"] > empty["metrics"]["score"]


def test_state_round_trip_and_clone_on_locomo():
    env = gym.make(ENV_ID, conversation="conv-41", max_sessions=2)
    _, info = env.reset(seed=1)
    for _ in range(2):
        _, _, _, _, info = env.step(store_turns(info["view"]))
    core = env.unwrapped
    state = core.get_state()
    restored = LoCoMoEnv(conversation="conv-41", max_sessions=2)
    restored.reset(seed=0)
    restored.set_state(state.model_dump_json())
    assert restored.get_state() == state
    assert restored.conversation == core.conversation
    fork = core.clone()
    _, _, _, _, fork_info = fork.step(store_turns(info["view"]))
    fork.step(store_turns(fork_info["view"]))
    assert len(core.bank) == len(restored.bank) < len(fork.bank)


@pytest.mark.parametrize("chunks", [1, 3])
def test_gold_is_each_observation_once(chunks):
    assert "gold" not in gym.make(ENV_ID, max_sessions=1).reset(seed=0)[1]  # opt-in only
    env = gym.make(ENV_ID, conversation="conv-30", max_sessions=4, chunks_per_session=chunks, observation_gold=True)
    _, info = env.reset(seed=0)
    extracted, terminated = [], False
    while not terminated:
        gold = info["gold"]
        if info["role"] == "extractor":
            chunk_ids = {t.dia_id for t in info["view"].turns}
            assert all(set(f["dia_ids"]) & chunk_ids for f in gold["facts"] if f["dia_ids"])
            extracted += [f["fact"] for f in gold["facts"]]
        else:
            assert [op["content"] for op in gold["operations"]] == [f.fact for f in info["view"].facts]
        _, _, terminated, _, info = env.step(gold)
    observations = env.unwrapped.conversation.meta["observations"]
    expected = [f["fact"] for s in range(1, 5) for f in observations[str(s)]]
    assert sorted(extracted) == sorted(expected)
    assert len(env.unwrapped.bank) == len(expected) and env.unwrapped.invalid_actions == 0
    assert info["metrics"]["score"] > 0
