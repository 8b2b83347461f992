"""``memenv.fork``: forking keeps the wrapper stack of a ``gymnasium.make`` env and of the PettingZoo AEC env."""

from __future__ import annotations

import gymnasium as gym
import pytest

import memenv
from agents.baselines import StoreAll
from memenv.multiagent import env as aec_env
from memenv.wrappers import RecordTrajectory


def wrapper_types(env) -> list[type]:
    types = []
    while hasattr(env, "env"):
        types.append(type(env))
        env = env.env
    return [*types, type(env)]


def play(env, observation, info, steps: int) -> list[tuple[str, float, bool, bool]]:
    agent, out = StoreAll(), []
    for _ in range(steps):
        observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
        out.append((observation["text"], reward, terminated, truncated))
        if terminated or truncated:
            break
    return out


def test_fork_of_a_gymnasium_make_stack_keeps_wrappers_and_their_state():
    base = gym.make("MemoryR2/Synthetic-v0", max_sessions=3)
    env = gym.wrappers.RecordEpisodeStatistics(gym.wrappers.TimeLimit(base, max_episode_steps=5))
    observation, info = env.reset(seed=4)
    observation, _, _, _, info = env.step(StoreAll().act(observation, info))
    observation, _, _, _, info = env.step(StoreAll().act(observation, info))
    bank_before = env.unwrapped.bank

    child = memenv.fork(env)
    assert wrapper_types(child) == wrapper_types(env)  # OrderEnforcing, PassiveEnvChecker, TimeLimit, statistics
    assert child.unwrapped is not env.unwrapped and child.unwrapped.bank is bank_before  # O(1): shared bank
    child_steps = play(child, observation, info, 10)
    # the fork continued the TimeLimit count (2 done + 3 = 5) and did not touch the original
    assert len(child_steps) == 3 and child_steps[-1][3] is True
    assert env.unwrapped.bank is bank_before and env.get_wrapper_attr("_elapsed_steps") == 2
    assert env.get_wrapper_attr("episode_count") == 0 and child.get_wrapper_attr("episode_count") == 1
    # the original continues exactly as its fork did
    assert play(env, observation, info, 10) == child_steps


def test_unwrapped_clone_alone_loses_the_wrappers():
    env = gym.make("MemoryR2/Synthetic-v0", max_sessions=1)
    env.reset(seed=0)
    assert type(env.unwrapped.clone()) is type(env.unwrapped) and type(memenv.fork(env)) is type(env)


def test_aec_env_forks_with_its_wrapper_and_continues_independently():
    env = aec_env("MemoryR2/Synthetic-v0", max_sessions=2)
    env.reset(seed=1)
    agent = StoreAll()

    def step_once(aec) -> None:
        observation, _, terminated, truncated, info = aec.last()
        aec.step(None if terminated or truncated else agent.act(observation, info))

    for _ in range(2):
        step_once(env)
    child = memenv.fork(env)
    assert wrapper_types(child) == wrapper_types(env) and child.unwrapped.core is not env.unwrapped.core
    selection, cumulative = env.agent_selection, dict(env._cumulative_rewards)
    trace = []
    for agent_name in child.agent_iter():
        trace.append((agent_name, child.last()[1]))
        step_once(child)
    assert env.agent_selection == selection and env._cumulative_rewards == cumulative  # original untouched
    assert env.unwrapped.core.bank is not child.unwrapped.core.bank
    original = []
    for agent_name in env.agent_iter():
        original.append((agent_name, env.last()[1]))
        step_once(env)
    assert original == trace and trace[-1][1] != 0.0  # same terminal reward
    assert type(env.unwrapped.clone()) is type(env.unwrapped)


def test_fork_refuses_what_it_cannot_copy(tmp_path):
    with (tmp_path / "steps.jsonl").open("w") as stream:
        env = RecordTrajectory(gym.make("MemoryR2/Synthetic-v0", max_sessions=1), stream)
        env.reset(seed=0)
        with pytest.raises(TypeError, match="cannot fork .*: a wrapper holds something that cannot be copied"):
            memenv.fork(env)
    with pytest.raises(TypeError, match="fork needs a memenv env"):
        memenv.fork(gym.make("CartPole-v1"))
