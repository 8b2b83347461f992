"""Typed views: what the env emits matches the models, the text round-trips, and docs/environment.md stays true."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import gymnasium as gym
import pytest
from pydantic import ValidationError

import memenv
from agents.baselines import StoreAll
from memenv.views import ExtractorView, ManagerView, parse_view, view_text
from memenv.wrappers import RecordTrajectory

DOC = Path(__file__).resolve().parents[1] / "docs" / "environment.md"


def _episode(env, act, seed=0):
    """Every (observation, info) of one episode, the reset's first."""
    observation, info = env.reset(seed=seed)
    seen = [(observation, info)]
    while True:
        observation, _, terminated, _, info = env.step(act(observation, info))
        seen.append((observation, info))
        if terminated:
            return seen


def test_views_are_typed_round_trip_and_count_the_bank():
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=3)
    agent = StoreAll()
    seen = _episode(env, agent.act)
    managers = [info["view"] for _, info in seen if info["role"] == "manager"]
    assert managers and all(isinstance(v, ManagerView) for v in managers)
    for observation, info in seen:
        view = info["view"]
        assert parse_view(observation) == view and observation["text"] == view_text(view)
    # store-all ADDs every fact, so each manager step sees the facts of all earlier steps in the bank
    assert [v.bank_size for v in managers] == [sum(len(m.facts) for m in managers[:i]) for i in range(len(managers))]
    later = managers[-1]
    assert later.bank_size > len(later.memories) > 0  # memories are only the related ones
    assert {m.memory_id for m in later.memories} == {i for f in later.facts for i in f.related}
    final = seen[-1][1]["view"]
    assert isinstance(final, ExtractorView) and final.done and '"done":true' in seen[-1][0]["text"]
    assert '"done"' not in seen[0][0]["text"]


def test_views_are_frozen_and_malformed_text_is_rejected():
    _, info = gym.make("MemoryR2/Synthetic-v1", max_sessions=2).reset(seed=0)
    view = info["view"]
    with pytest.raises(ValidationError):
        view.session = 5
    data = view.model_dump(mode="json")
    with pytest.raises(ValidationError, match="surprise"):
        parse_view(json.dumps({**data, "surprise": 1}))
    with pytest.raises(ValidationError):
        parse_view(json.dumps({**data, "role": "reader"}))
    with pytest.raises(ValidationError):
        parse_view(json.dumps({**data, "role": "manager"}))  # a manager view needs bank_size


def test_trajectories_record_the_view_as_json():
    stream = io.StringIO()
    env = RecordTrajectory(gym.make("MemoryR2/Synthetic-v1", max_sessions=2), stream)
    _episode(env, StoreAll().act)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    manager = next(r for r in records if r["role"] == "manager")
    assert parse_view(json.dumps(manager["view"])).bank_size == manager["view"]["bank_size"] == 0


def _documented_info_keys() -> set[str]:
    section = DOC.read_text().split("## Info keys", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))


def test_documented_info_keys_are_exactly_the_emitted_ones():
    emitted: set[str] = set()
    for privileged in (False, True):
        env = gym.make("MemoryR2/Synthetic-v1", max_sessions=2, privileged=privileged)
        agent = StoreAll()

        def act(observation, info):  # the first manager step is invalid, so that "error" is emitted
            if info["role"] == "manager" and info["view"].session == 1:
                return "UPDATE m99: no such memory"
            return agent.act(observation, info)

        emitted |= {key for _, info in _episode(env, act) for key in info}
    assert _documented_info_keys() == emitted


def test_documented_view_examples_parse_to_their_role():
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
    assert [type(parse_view(block)) for block in blocks] == [ExtractorView, ManagerView]


def test_package_exports_the_view_api():
    assert memenv.parse_view is parse_view and memenv.ManagerView is ManagerView


def test_module_doctests():
    import doctest

    from memenv import views

    assert doctest.testmod(views).failed == 0
