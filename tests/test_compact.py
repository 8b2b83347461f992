"""The compact manager format (memenv/compact.py), its prompts, and the LLM agent's action_format / prompt_style."""

from __future__ import annotations

import doctest

import gymnasium as gym
import pytest

import memenv  # noqa: F401  (registers the env ids)
import memenv.compact
from agents.llm.agent import LLMAgent
from agents.llm.hf import TransformersBackend
from agents.llm.loading import load_model
from agents.llm.prompts import EXAMPLES, build_messages, render_target, system_prompt
from agents.reference import ReferenceAgent
from memenv.actions import AddOp, DeleteOp, ManageAction, NoopOp, ParseError, UpdateOp
from memenv.compact import parse_compact, render_compact
from memenv.views import FactView, ManagerView, MemoryView


def _view(facts: int = 3) -> ManagerView:
    return ManagerView(
        session=2, num_sessions=2, chunk=0, num_chunks=1, date=None, speakers=("Ann", "Bo"),
        facts=tuple(
            FactView(index=i, speaker="Ann", fact=f"Ann fact {i}.", dia_ids=(f"D2:{i + 1}",), related=("m1", "m3"))
            for i in range(facts)
        ),
        memories=(
            MemoryView(memory_id="m1", content="Ann lives in Rome. Previously Ann lived in Pisa.", session=1),
            MemoryView(memory_id="m3", content="Ann likes tea.", session=1),
        ),
        bank_size=3,
    )


def test_doctests():
    assert doctest.testmod(memenv.compact).failed == 0


def test_each_code_becomes_the_filled_operation():
    view = _view(3)
    action = parse_compact(view, "U1 r3, n")
    assert action == ManageAction(operations=(
        UpdateOp(memory_id="m1", content="Ann fact 0. Previously Ann lives in Rome.", dia_ids=("D2:1",)),
        DeleteOp(memory_id="m3"),
        AddOp(content="Ann fact 1.", speaker="Ann", dia_ids=("D2:2",)),
        NoopOp(),
    ))
    assert parse_compact(view, "A\nD3\nU m1") == parse_compact(view, "a d3 Um1")
    assert [op.op for op in parse_compact(view, "A D3 U m1").operations] == ["ADD", "DELETE", "UPDATE"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("A N", "2 codes for 3 facts"),
        ("A N A A", "4 codes for 3 facts"),
        ("A X N", "code 2 (X): not a code"),
        ("A U2 N", "code 2 (U2): m2 is not among the memories shown (m1, m3)"),
        ("D1 U1 N", "code 2 (U1): m1 was deleted by an earlier code"),
        ("ADD: Ann fact 0.", "codes for 3 facts"),
        ("", "0 codes for 3 facts"),
    ],
)
def test_bad_codes_are_parse_errors_that_say_why(text, message):
    parsed = parse_compact(_view(3), text)
    assert isinstance(parsed, ParseError) and message in parsed.message


def test_no_facts_accepts_nothing_or_n():
    view = _view(0)
    assert parse_compact(view, "") == parse_compact(view, "N") == ManageAction()
    assert render_compact(view, ManageAction()) == "N"
    assert isinstance(parse_compact(view, "A"), ParseError)


def test_render_refuses_actions_outside_the_compact_set():
    view = _view(1)
    with pytest.raises(ValueError, match="has no compact code"):
        render_compact(view, ManageAction(operations=(AddOp(content="something else"),)))
    with pytest.raises(ValueError, match="not the filled ones"):
        render_compact(view, ManageAction(operations=(UpdateOp(memory_id="m1", content="my own merge"),)))
    with pytest.raises(ValueError, match="left after one code per fact"):
        render_compact(view, ManageAction(operations=(NoopOp(), NoopOp())))


def test_reference_agent_round_trips_and_scores_the_same_through_codes():
    """Every manager action of the reference agent has codes that parse back to it; playing the parsed codes
    gives the same episode (score and bank) as playing the agent's actions."""
    agent = ReferenceAgent()
    for seed in range(2):
        results = []
        for via_codes in (False, True):
            env = gym.make("MemoryR2/Synthetic-v1", max_sessions=3)
            observation, info = env.reset(seed=seed)
            done, codes_seen = False, []
            while not done:
                action = agent.act(observation, info)
                if info["role"] == "manager" and via_codes:
                    codes = render_compact(info["view"], action)
                    codes_seen.append(codes)
                    action = parse_compact(info["view"], codes)
                observation, _, done, _, info = env.step(action)
            results.append((info["metrics"]["score"], [e.content for e in env.unwrapped.bank]))
        assert results[0] == results[1]
        assert any("U" in c for c in codes_seen)  # UPDATEs were exercised


def test_env_penalises_a_parse_error_and_reports_its_message():
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=2)
    observation, info = env.reset(seed=0)
    observation, _, _, _, info = env.step(ReferenceAgent().act(observation, info))
    error = parse_compact(info["view"], "Z9")
    assert isinstance(error, ParseError)
    _, reward, _, _, info = env.step(error)
    assert reward == pytest.approx(env.unwrapped.invalid_action_penalty) and error.message in info["error"]
    assert len(env.unwrapped.bank) == 0
    observation, reward, _, _, info = env.step(error)  # a manager's error in the extractor's phase is refused
    assert "error was given in the extractor phase" in info["error"]


def test_prompt_styles_and_formats():
    view = EXAMPLES["manager"][1][0]
    terse = build_messages(view, action_format="compact", style="terse")
    assert [m["role"] for m in terse] == ["system", "user"]
    assert "U<k>" in terse[0]["content"] and "10 May 2023" not in terse[1]["content"]
    fewshot = build_messages(view, action_format="compact")
    assert [m["content"] for m in fewshot if m["role"] == "assistant"] == ["A A", "U1 A N"]
    for answer, (example, _) in zip(["A A", "U1 A N"], EXAMPLES["manager"]):  # the examples' codes are valid
        assert isinstance(parse_compact(example, answer), ManageAction)
    assert "ADD: <memory>" in system_prompt("manager", style="terse")
    assert system_prompt("extractor", action_format="compact") == system_prompt("extractor")
    with pytest.raises(ValueError, match="action_format"):
        build_messages(view, action_format="codes")
    with pytest.raises(ValueError, match="style"):
        build_messages(view, style="short")


def test_render_target_line_and_compact():
    view = _view(2)
    action = parse_compact(view, "U1 A")
    assert render_target(view, action, action_format="compact") == "U1 A"
    assert render_target(view, action).splitlines() == [
        "UPDATE m1: Ann fact 0. Previously Ann lives in Rome. [D2:1]", "ADD: Ann fact 1. [D2:2]"
    ]


@pytest.fixture(scope="module")
def backend():
    return TransformersBackend(*load_model("tiny", seed=0))


def test_compact_agent_hands_the_env_actions_or_errors(backend):
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=2)
    agent = LLMAgent(backend, temperature=1.0, max_new_tokens=8, seed=0, action_format="compact", prompt_style="terse")
    observation, info = env.reset(seed=0)
    done = False
    while not done:
        role, view = info["role"], info["view"]
        action = agent.act(observation, info)
        record = agent.records[-1]
        if role == "manager":
            assert isinstance(action, (ManageAction, ParseError))
            assert action == parse_compact(view, record.text)
            assert record.parse_error == (action.message if isinstance(action, ParseError) else None)
        else:
            assert isinstance(action, str)
        observation, reward, done, _, info = env.step(action)
        if role == "manager" and isinstance(action, ParseError):
            assert action.message in info["error"]
    terse = agent.prompt_ids(view)
    agent.prompt_style = "fewshot"
    assert len(terse) < len(agent.prompt_ids(view))
    with pytest.raises(ValueError, match="action_format"):
        LLMAgent(backend, action_format="json")
