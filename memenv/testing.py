"""Adversarial agent output, for testing parsers, environments and agents against what models really emit.

:func:`adversarial_actions` names the worst cases of every class that once crashed or stalled ``MemoryEnv.step``
(issue 14: backtracking dialogue-id lists, whitespace runs, brace floods, lone surrogates, over-long text, too
many items). :func:`any_action` is a hypothesis strategy over any text and any JSON-like value, biased towards
LLM-shaped output and those classes; it needs the ``dev`` extra (hypothesis), so nothing in memenv imports this
module. :func:`env_at` positions an env for such a step. Used by ``tests/test_action_fuzz.py`` and
``benchmarks/adversarial_actions.py``.
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
from hypothesis import strategies as st

from memenv.actions import MAX_ACTION_CHARS, MAX_ACTION_ITEMS, MAX_TEXT_CHARS, Role
from memenv.env import MemoryEnv

_LINE_PREFIX = {"extractor": "- ", "manager": "ADD: "}
_JSON_KEY = {"extractor": ("facts", "fact"), "manager": ("operations", "content")}


def adversarial_actions(role: Role) -> dict[str, Any]:
    """Named worst-case actions for ``role``, each at the size that is read (or beyond it, where the cap is
    what is tested): texts, and the dict actions that ``step`` also accepts."""
    prefix = _LINE_PREFIX[role]
    items_key, text_key = _JSON_KEY[role]
    op = {"op": "ADD"} if role == "manager" else {}
    dia_ids = " ".join(f"D1:{i}" for i in range(40))
    line = f"{prefix}Caroline went to a support group yesterday. [D1:1]\n"
    cases: dict[str, Any] = {
        "unclosed_dia_id_list": f"{prefix}Caroline went to a group [{dia_ids} ok",
        "stuttered_dia_ids": f"{prefix}x [" + "D1:1  " * (MAX_ACTION_CHARS // 6),
        "whitespace_run": f"{prefix}x" + " " * (MAX_ACTION_CHARS - len(prefix) - 2) + "y",
        "whitespace_only_bullet": "-" + " " * MAX_ACTION_CHARS,
        "open_braces": "{" * MAX_ACTION_CHARS,
        "open_keys": '{"' * (MAX_ACTION_CHARS // 2),
        "unclosed_fence": "```" + " " * MAX_ACTION_CHARS,
        "deep_brackets": "[" * MAX_ACTION_CHARS,
        "lone_surrogate_json": json.dumps({items_key: [{**op, text_key: "\ud800"}]}),
        "lone_surrogate_text": f"{prefix}Caroline \ud800 went home",
        "over_long_text": line * (4 * MAX_ACTION_CHARS // len(line)),
        "too_many_items": f"{prefix}a b\n" * (MAX_ACTION_ITEMS + 1),
        "over_long_field": f"{prefix}" + "\U0001f600" * MAX_TEXT_CHARS,
        "dict_too_many_items": {items_key: [{**op, text_key: f"fact {i}"} for i in range(100_000)]},
        "dict_huge_field": {items_key: [{**op, text_key: "x" * (1 << 22)}]},
        "dict_lone_surrogate": {items_key: [{**op, text_key: "a\udc00b"}]},
        "dict_deep_nesting": {items_key: _nested(10_000)},
        "dict_wrong_role": {"role": "manager" if role == "extractor" else "extractor", items_key: []},
    }
    if role == "manager":
        cases["lone_surrogate_update"] = json.dumps({"operations": [{"op": "UPDATE", "memory_id": "m1",
                                                                      "content": "x \ud800"}]})
    return cases


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


_PIECES = ['{"', '"}', "[", "]", "{", "}", ":", ",", "'", '"facts"', '"operations"', '"op"', '"role"', "ADD",
           "ADD: ", "UPDATE m1:", "DELETE m2", "NOOP", "- ", "* ", "1. ", "\n", "```json", "```", "[D1:3]",
           "D1:1 ", " [D1:1", "null", "1e999", "NaN", '"content"', '"memory"', '"event"', "\\ud800", "\\udc00",
           "\\u0000", "\ud800", "\udfff", "Alice:", " ", "\t", "   ", "\u00e9", "\U0001f600"]
_KEYS = ["facts", "operations", "memory", "role", "op", "event", "content", "text", "fact", "speaker", "memory_id",
         "id", "dia_ids", "extractor", "manager", "ADD", "UPDATE", "DELETE", "NOOP"]

_surrogates = st.integers(0xD800, 0xDFFF).map(chr)
_any_char = st.one_of(st.characters(), _surrogates)
_llm_like = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(_any_char, max_size=6)), max_size=40).map("".join)
_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(_any_char, max_size=12)
            | st.sampled_from(_KEYS))
json_like = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=16,
)
"""Any JSON-like value (None, bools, ints, floats including NaN and infinities, strings with lone surrogates,
lists, dicts), keys biased towards the action schema."""


def any_action(role: Role) -> st.SearchStrategy[Any]:
    """Any text or JSON-like value, LLM-shaped text, the JSON text of a JSON-like value, or (scaled down, so a
    test stays fast) the repeated units of the adversarial classes."""
    prefix = _LINE_PREFIX[role]
    repeated = st.tuples(st.sampled_from([" ", "{", '{"', "[", "D1:1  ", "```", f"{prefix}x\n", "\\ud800"]),
                         st.integers(1, 3_000)).map(lambda unit_times: unit_times[0] * unit_times[1])
    return st.one_of(
        st.text(_any_char),
        _llm_like,
        json_like,
        json_like.map(lambda value: json.dumps(value)),
        repeated.map(lambda tail: f"{prefix}x [{tail}"),
        st.sampled_from(list(adversarial_actions(role).values())),
    )


def env_at(env_id: str, role: Role, **kwargs: Any) -> MemoryEnv:
    """A fresh ``env_id`` (2 sessions, 3 chunks each) in its first session with three memories and ``role`` on
    turn, so that its next step ends no session: a step's reward is then exactly the penalty or 0."""
    env = gym.make(env_id, max_sessions=2, chunks_per_session=3, **kwargs).unwrapped
    env.reset(seed=0)
    env.step("- Alice lives in Oslo.\n- Bob plays the guitar.")
    env.step("ADD: Alice lives in Oslo.\nADD: Bob plays the guitar.\nADD: Bob has a cat named Rex.")
    if role == "manager":
        env.step("- Alice moved to Rome.\n- Bob sold the guitar.")
    assert env.role == role and len(env.bank) == 3, (env.role, len(env.bank))
    return env
