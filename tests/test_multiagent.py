"""The PettingZoo AEC view: api_test, turn order, reward split, and equivalence with the Gymnasium env."""

from __future__ import annotations

import gymnasium as gym
import pytest
from pettingzoo.test import api_test

import memenv  # noqa: F401
from memenv.multiagent import env, raw_env

EXTRACT = {"facts": [{"fact": "Ann likes green tea", "speaker": "Ann"}]}
MANAGE = {"operations": [{"op": "ADD", "content": "Ann likes green tea"}]}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "env_id, kwargs", [("MemoryR2/Synthetic-v0", {"max_sessions": 2}), ("MemoryR2/LoCoMo-v0", {"max_sessions": 1})]
)
def test_pettingzoo_api_test_passes(env_id, kwargs):
    api_test(env(env_id, **kwargs), num_cycles=60)


def test_roles_alternate_and_both_agents_terminate_with_the_team_score():
    aec = env("MemoryR2/Synthetic-v0", max_sessions=3)
    aec.reset(seed=1)
    order = []
    for agent in aec.agent_iter():
        _, _, terminated, truncated, info = aec.last()
        order.append(agent)
        if terminated or truncated:
            assert "metrics" in info
            aec.step(None)
            continue
        assert info["role"] == agent
        aec.step(EXTRACT if agent == "extractor" else MANAGE)
    assert order[:6] == ["extractor", "manager"] * 3 and len(order) == 3 * 2 + 2
    assert aec.agents == []


def test_invalid_action_penalty_goes_only_to_the_agent_that_acted():
    aec = raw_env("MemoryR2/Synthetic-v0", max_sessions=2)
    aec.reset(seed=0)
    aec.step("no facts in any format")
    penalty = aec.core.invalid_action_penalty
    assert aec.rewards == {"extractor": penalty, "manager": 0.0}
    assert "error" in aec.infos["manager"]
    aec.step(MANAGE)
    assert aec.rewards == {"extractor": 0.0, "manager": 0.0}


def test_same_actions_give_the_same_bank_and_rewards_as_the_gymnasium_env():
    single = gym.make("MemoryR2/Synthetic-v0", max_sessions=2, reward_mode="session")
    single.reset(seed=4)
    aec = raw_env("MemoryR2/Synthetic-v0", max_sessions=2, reward_mode="session")
    aec.reset(seed=4)
    gym_rewards, aec_rewards, terminated = [], [], False
    while not terminated:
        action = EXTRACT if single.unwrapped.role == "extractor" else MANAGE
        _, reward, terminated, _, _ = single.step(action)
        aec.step(action)
        gym_rewards.append(reward)
        aec_rewards.append(aec.rewards["manager"])
    assert gym_rewards == aec_rewards
    assert aec.core.bank == single.unwrapped.bank and len(aec.core.bank) == 2


def test_an_env_instance_can_be_wrapped_but_not_with_make_kwargs():
    core = gym.make("MemoryR2/Synthetic-v0", max_sessions=1).unwrapped
    assert raw_env(core).core is core
    with pytest.raises(TypeError, match="gymnasium.make"):
        raw_env(core, max_sessions=2)


def test_aec_reset_drops_unknown_options_with_a_warning_and_keeps_known_ones():
    aec = env("MemoryR2/Synthetic-v0", max_sessions=1)
    with pytest.warns(UserWarning, match=r"ignoring unknown reset option\(s\) \['bogus'\]"):
        aec.reset(seed=0, options={"bogus": 1, "conversation_seed": 5})
    first = aec.observe("extractor")["text"]
    aec.reset(seed=1, options={"conversation_seed": 5})
    assert aec.observe("extractor")["text"] == first  # conversation_seed still chose the episode
