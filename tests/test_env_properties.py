"""Property tests of the fork API and bad-action handling, on Synthetic-v0 with random action sequences."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memenv.actions import ExtractAction, ManageAction
from memenv.env import EnvState
from memenv.envs.synthetic import SyntheticEnv

SMALL = {"max_sessions": 3, "chunks_per_session": 2, "facts_per_session": 3, "reward_mode": "session", "privileged": True}
STEPS = 2 * 3 * 2
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet="abcdefghij KLMN.'", min_size=0, max_size=24)
op_spec = st.tuples(st.sampled_from(["ADD", "UPDATE", "DELETE", "NOOP"]), st.integers(1, 12), words)
# An abstract action: played as the gold action, as raw text, or as structured facts / operations (some invalid:
# empty content, memory ids that do not exist), whichever role is on turn.
action_spec = st.one_of(
    st.just(("gold", None)),
    st.tuples(st.just("text"), st.text(max_size=60)),
    st.tuples(st.just("ops"), st.lists(op_spec, max_size=4)),
)


def make_env(seed: int = 0) -> tuple[SyntheticEnv, dict]:
    env = SyntheticEnv(**SMALL)
    return env, env.reset(seed=seed)[1]


def concrete(spec, info):
    kind, payload = spec
    if kind == "gold":
        return info["gold"]
    if kind == "text":
        return payload
    if info["role"] == "extractor":
        return {"facts": [{"fact": text, "dia_ids": [f"D1:{n}"]} for _, n, text in payload]}
    ops = []
    for op, n, text in payload:
        ops.append({"op": op, "memory_id": f"m{n}", "content": text} if op != "ADD" else {"op": op, "content": text})
    return {"operations": ops}


def play(env, specs, info):
    """Step ``env`` through ``specs`` (until termination); return everything observable step by step, and the
    last info."""
    trace = []
    for spec in specs:
        if info.get("metrics") is not None:  # terminated
            break
        obs, reward, terminated, truncated, info = env.step(concrete(spec, info))
        bank = [e.model_dump() for e in env.bank]
        trace.append((obs["text"], reward, terminated, info.get("error"), info.get("metrics"), bank))
    return trace, info


def state_json(env) -> str:
    return env.get_state().model_dump_json()


@PROPERTY
@given(seed=st.integers(0, 3), prefix=st.lists(action_spec, max_size=STEPS),
       first=st.lists(action_spec, max_size=STEPS), second=st.lists(action_spec, max_size=STEPS))
def test_clones_never_affect_each_other(seed, prefix, first, second):
    env, info = make_env(seed)
    info = play(env, prefix, info)[1]
    before = state_json(env)
    clone = env.clone()
    spare = env.clone()
    clone_trace, _ = play(clone, second, info)
    assert state_json(env) == before  # stepping the clone left the original alone
    original_trace, _ = play(env, first, info)
    assert state_json(spare) == before  # stepping the original left the other clone alone
    # Each fork's future is what a fresh env restored from the fork point does with the same actions.
    for trace, specs in ((clone_trace, second), (original_trace, first)):
        fresh = SyntheticEnv(**SMALL)
        fresh.reset(seed=99)
        fresh.set_state(before)
        assert play(fresh, specs, info)[0] == trace


@PROPERTY
@given(seed=st.integers(0, 3), prefix=st.lists(action_spec, max_size=STEPS), rest=st.lists(action_spec, max_size=STEPS))
def test_state_survives_json_and_reproduces_the_same_future(seed, prefix, rest):
    env, info = make_env(seed)
    info = play(env, prefix, info)[1]
    state = env.get_state()
    text = state.model_dump_json()
    assert EnvState.model_validate_json(text) == state
    assert json.loads(text)["rng_state"] == state.rng_state
    fresh = SyntheticEnv(**SMALL)
    fresh.reset(seed=seed + 1)
    fresh.set_state(json.loads(text))
    assert state_json(fresh) == text
    assert play(fresh, rest, info)[0] == play(env, rest, info)[0]
    assert fresh.np_random.random() == env.np_random.random()


def manager_step_env() -> tuple[SyntheticEnv, dict]:
    env, info = make_env(1)
    _, _, _, _, info = env.step(info["gold"])
    _, _, _, _, info = env.step(info["gold"])  # the bank now holds the first chunk's memories
    _, _, _, _, info = env.step(info["gold"])
    assert info["role"] == "manager" and len(env.bank) > 0
    return env, info


@pytest.mark.parametrize(
    "action, message",
    [
        ({"operations": [{"op": "UPDATE", "memory_id": "m999", "content": "x"}]}, "m999"),
        ({"operations": [{"op": "DELETE", "memory_id": "m404"}]}, "m404"),
        ("UPDATE m77: Maya lives in Rome", "m77"),
        ("I think I will not do anything", "no JSON action"),
        ("{'operations': [{'op': 'ADD', 'content': 'x'}]}", "double-quoted"),
        ({"operations": [{"op": "ADD", "content": "   "}]}, "content"),
        (ExtractAction(), "extractor action"),
    ],
)
def test_invalid_actions_leave_the_bank_unchanged_and_say_why(action, message):
    env, _ = manager_step_env()
    bank = env.bank
    _, reward, _, _, info = env.step(action)
    assert env.bank == bank and list(env.bank) == list(bank)
    assert message in info["error"]
    assert reward == pytest.approx(env.invalid_action_penalty) and env.invalid_actions == 1


def test_only_the_invalid_part_of_an_action_is_dropped():
    env, info = manager_step_env()
    size = len(env.bank)
    action = ManageAction.model_validate(
        {"operations": [{"op": "DELETE", "memory_id": "m1"}, {"op": "UPDATE", "memory_id": "m1", "content": "x"}]}
    )
    _, _, _, _, info = env.step(action)
    assert "m1" not in env.bank and len(env.bank) == size - 1
    assert "operations[1] UPDATE" in info["error"] and info["invalid_ops"] == 1


@pytest.mark.parametrize("action", ["no bullet here", ManageAction(), {"facts": [{"fact": ""}]}])
def test_invalid_extractor_actions_give_no_facts_and_say_why(action):
    env, info = make_env(2)
    _, reward, _, _, info = env.step(action)
    assert info["role"] == "manager" and info["view"].facts == () and info["error"]
    assert reward == pytest.approx(env.invalid_action_penalty) and len(env.bank) == 0
