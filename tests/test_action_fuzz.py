"""Fuzzing ``MemoryEnv.step`` with any text or JSON-like value, in both roles, on every registered env (issue 14).

After every step: no exception escaped, the observation lies in its space, an error comes with exactly the
penalty (and a clean step with none), the invalid-action counter moved by one iff there was an error, an
unreadable action left the bank untouched, the bank is well formed (ids ``m<N>`` below ``next_id``, token count
consistent) and the state dumps to JSON and restores into another env identically.
The default run tries a few hundred actions; ``-m slow`` tries 10,000 per role and env.
"""

import functools

import pytest
from hypothesis import HealthCheck, given, settings

import memenv  # noqa: F401  (registers the env ids)
from memenv.actions import ParseError, coerce_action
from memenv.env import MemoryEnv
from memenv.registration import ENVS
from memenv.testing import adversarial_actions, any_action, env_at
from memenv.text import count_tokens

ROLES = ("extractor", "manager")
# The one worst case that is a well-formed action once read linearly (the unclosed list stays in the text).
READABLE_WORST_CASES = {"unclosed_dia_id_list"}


@functools.cache
def ready_env(env_id: str, role: str) -> MemoryEnv:
    """Each example steps a clone of this env (clones are independent and O(1))."""
    return env_at(env_id, role, invalid_action_penalty=-0.5)


def check_step(env_id: str, env: MemoryEnv, action) -> dict:
    """Step ``env`` (at ``ready_env(env_id, env.role)``) with ``action``, check the invariants, return ``info``."""
    role, bank, invalid = env.role, env.bank, env.invalid_actions
    unreadable = isinstance(coerce_action(role, action), ParseError)
    obs, reward, terminated, truncated, info = env.step(action)

    assert env.observation_space.contains(obs)
    assert not terminated and not truncated and env.role != role
    erred = "error" in info
    assert erred or not unreadable
    assert reward == (env.invalid_action_penalty if erred else 0.0)
    assert env.invalid_actions == invalid + erred
    if erred:
        assert isinstance(info["error"], str) and info["error"]
    if unreadable or role == "extractor":
        assert env.bank == bank

    state = env.get_state()
    entries = state.bank.entries
    numbers = [int(e.memory_id[1:]) for e in entries]
    assert all(e.memory_id == f"m{n}" for e, n in zip(entries, numbers))
    assert len(set(numbers)) == len(numbers) and all(0 < n < state.bank.next_id for n in numbers)
    assert env.bank.tokens == sum(count_tokens(e.content) for e in entries)
    restored = ready_env(env_id, "extractor").clone()
    restored.set_state(state.model_dump_json())
    assert restored.get_state() == state
    return info


def fuzz_test(examples: int):
    @pytest.mark.parametrize("env_id", sorted(ENVS))
    @pytest.mark.parametrize("role", ROLES)
    def test(env_id, role):
        env = ready_env(env_id, role)

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(action=any_action(role))
        def step_once(action):
            check_step(env_id, env.clone(), action)

        step_once()

    return test


test_step_survives_any_action = fuzz_test(125)
test_step_survives_any_action_at_length = pytest.mark.slow(fuzz_test(10_000))


@pytest.mark.parametrize("env_id", sorted(ENVS))
@pytest.mark.parametrize("role", ROLES)
def test_step_survives_each_adversarial_action(env_id, role):
    """Every named worst case of issue 14 (backtracking, floods, surrogates, over-long, too many), each once."""
    for name, action in adversarial_actions(role).items():
        info = check_step(env_id, ready_env(env_id, role).clone(), action)
        assert ("error" in info) == (name not in READABLE_WORST_CASES), name
