"""``parse_action``: never raises, and reads every format its docstring promises."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memenv.actions import (
    AddOp,
    DeleteOp,
    ExtractAction,
    Fact,
    ManageAction,
    NoopOp,
    ParseError,
    UpdateOp,
    coerce_action,
    parse_action,
)

FUZZ = settings(max_examples=300, deadline=None)
RESULTS = (ExtractAction, ManageAction, ParseError)
# Text that looks like LLM output: JSON punctuation, op keywords, fences, bullets and dia ids, recombined.
pieces = st.sampled_from(['{"', '"}', "[", "]", "{", "}", ":", ",", "'", '"facts"', '"operations"', '"op"', "ADD",
                          "UPDATE m1:", "DELETE m2", "NOOP", "- ", "\n", "```json", "```", "[D1:3]", "null", "1e999",
                          '"content"', '"memory"', '"event"', "\\u0000", "Alice:", " "])
llm_like = st.lists(st.one_of(pieces, st.text(max_size=5)), max_size=30).map("".join)


@FUZZ
@given(role=st.sampled_from(["extractor", "manager", "judge", ""]), text=st.one_of(st.text(), llm_like))
def test_parse_action_never_raises_on_any_text(role, text):
    assert isinstance(parse_action(role, text), RESULTS)


@FUZZ
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=12))
def test_parse_and_coerce_never_raise_on_any_json_value(value):
    for role in ("extractor", "manager"):
        assert isinstance(parse_action(role, json.dumps(value)), RESULTS)
        assert isinstance(coerce_action(role, value), RESULTS)


def test_parse_action_survives_non_strings_and_deep_nesting():
    assert isinstance(parse_action("manager", None), ParseError)
    assert isinstance(parse_action("manager", "[" * 100_000), RESULTS)
    assert isinstance(parse_action("extractor", '{"facts": ' * 5_000), RESULTS)


FACTS = {"facts": [{"speaker": "Ann", "fact": "Ann lives in Oslo.", "dia_ids": ["D1:2"]}]}
EXPECTED_FACTS = ExtractAction(facts=(Fact(speaker="Ann", fact="Ann lives in Oslo.", dia_ids=("D1:2",)),))


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(FACTS),
        f"```json\n{json.dumps(FACTS)}\n```",
        f"Sure! Here are the facts:\n{json.dumps(FACTS)}\nHope that helps.",
        f"```\n{json.dumps(FACTS)}\n```",
        "- Ann: Ann lives in Oslo. [D1:2]",
        "Facts:\n* Ann: Ann lives in Oslo. [D1:2]\nthat's all",
    ],
)
def test_extractor_formats(text):
    assert parse_action("extractor", text) == EXPECTED_FACTS


def test_extractor_plain_strings_and_numbered_lines():
    assert parse_action("extractor", '{"facts": ["Bo has a cat."]}').facts == (Fact(fact="Bo has a cat."),)
    action = parse_action("extractor", "1. Bo has a cat.\n2) Bo: I moved. [D2:1, D2:4]")
    assert action.facts == (Fact(fact="Bo has a cat."), Fact(speaker="Bo", fact="I moved.", dia_ids=("D2:1", "D2:4")))


EXPECTED_OPS = ManageAction(
    operations=(
        AddOp(content="Ann lives in Oslo.", dia_ids=("D1:2",)),
        UpdateOp(memory_id="m3", content="Bo has two cats."),
        DeleteOp(memory_id="m4"),
        NoopOp(),
    )
)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"operations": [{"op": "ADD", "content": "Ann lives in Oslo.", "dia_ids": ["D1:2"]},
                                   {"op": "update", "memory_id": "m3", "content": "Bo has two cats."},
                                   {"op": "DELETE", "memory_id": "m4"}, {"op": "NOOP"}]}),
        "```json\n" + json.dumps({"memory": [{"event": "ADD", "text": "Ann lives in Oslo.", "dia_ids": ["D1:2"]},
                                             {"event": "UPDATE", "id": "m3", "text": "Bo has two cats.",
                                              "old_memory": "Bo has a cat."},
                                             {"event": "DELETE", "id": "m4"}, {"event": "noop"}]}) + "\n```",
        "ADD: Ann lives in Oslo. [D1:2]\nUPDATE m3: Bo has two cats.\nDELETE m4\nNOOP",
        "Let me think.\n- ADD Ann lives in Oslo. [D1:2]\n- UPDATE [m3]: Bo has two cats.\n- delete m4.\n- NOOP",
    ],
)
def test_manager_formats(text):
    assert parse_action("manager", text) == EXPECTED_OPS


@pytest.mark.parametrize(
    "role, text, message",
    [
        ("manager", "{'operations': [{'op': 'ADD', 'content': 'x'}]}", "double-quoted"),
        ("manager", '{"operations": [{"op": "ADD", "content": ""}]}', "content"),
        ("manager", '{"operations": [{"op": "MERGE", "memory_id": "m1"}]}', "operations"),
        ("manager", "I would keep everything as it is.", "no JSON action"),
        ("extractor", "Nothing worth remembering here.", "- <fact>"),
        ("critic", "ADD: x", "unknown role"),
    ],
)
def test_errors_are_structured_and_say_what_was_wrong(role, text, message):
    result = parse_action(role, text)
    assert isinstance(result, ParseError) and message in result.message


def test_coerce_accepts_objects_and_dicts_of_the_right_role_only():
    assert coerce_action("manager", EXPECTED_OPS) == EXPECTED_OPS  # validated again, so a copy (issue 19)
    assert coerce_action("extractor", FACTS) == EXPECTED_FACTS
    assert coerce_action("manager", {"role": "manager", "operations": [{"op": "NOOP"}]}) == ManageAction(
        operations=(NoopOp(),)
    )
    assert "extractor action" in coerce_action("manager", EXPECTED_FACTS).message
    assert isinstance(coerce_action("manager", 42), ParseError)


def test_mem0_none_event_means_noop():
    from memenv.actions import NoopOp, parse_action

    action = parse_action("manager", '{"memory": [{"id": "0", "text": "x", "event": "NONE"}]}')
    assert isinstance(action.operations[0], NoopOp)
