"""Mem0Like: sentence-level extraction and similarity-based ADD / UPDATE / NOOP decisions."""

from __future__ import annotations

import doctest

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from agents import mem0_like
from agents.mem0_like import Mem0Like, jaccard, split_sentences
from agents.registry import make_agent
from agents.rollout import run_episode
from memenv.actions import AddOp, NoopOp, UpdateOp
from memenv.views import ExtractorView, FactView, ManagerView, MemoryView, Turn, view_text


@pytest.fixture(autouse=True)
def dev_subset(monkeypatch):
    """Tests use the embedded dev subset even where the user set MEMR2_LOCOMO_PATH."""
    monkeypatch.delenv("MEMR2_LOCOMO_PATH", raising=False)


def test_doctests():
    assert doctest.testmod(mem0_like).failed == 0


def test_split_sentences_and_jaccard():
    assert split_sentences("One two. Three four?\nFive six") == ["One two.", "Three four?", "Five six"]
    assert split_sentences("") == []
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


HEADER = {"session": 2, "num_sessions": 8, "chunk": 0, "num_chunks": 1, "date": None, "speakers": ("Ann", "Bob")}


def test_extract_drops_chit_chat_and_keeps_captions():
    view = ExtractorView(
        **HEADER,
        turns=(
            Turn(speaker="Ann", dia_id="D1:1", text="Hey! How are you?"),
            Turn(speaker="Bob", dia_id="D1:2", text="Wow. I started pottery in Leeds. [shared a photo of a vase]"),
        ),
    )
    facts = Mem0Like().act({"text": view_text(view)}, {}).facts  # rebuilt from the observation text
    assert [(f.speaker, f.fact, f.dia_ids) for f in facts] == [
        ("Bob", "I started pottery in Leeds.", ("D1:2",)),
        ("Bob", "shared a photo of a vase", ("D1:2",)),
    ]


def manager_view(facts, memories):
    return ManagerView(
        **HEADER,
        facts=[FactView.model_validate(f) for f in facts],
        memories=[MemoryView(session=1, **m) for m in memories],
        bank_size=len(memories),
    )


def test_manage_add_update_noop():
    memories = [
        {"memory_id": "m0", "content": "I adopted a puppy named Rex", "speaker": "Ann"},
        {"memory_id": "m1", "content": "I work as a nurse at the city hospital", "speaker": "Ann"},
    ]
    facts = [
        # a duplicate of m0 (all content words present) -> NOOP
        {"index": 0, "speaker": "Ann", "fact": "I adopted a puppy named Rex.", "dia_ids": ["D2:1"], "related": ["m0"]},
        # same topic as m1 with more detail (covers all of m1's words) -> UPDATE replacing m1
        {"index": 1, "speaker": "Ann", "fact": "I work as a nurse at the city hospital night shifts",
         "dia_ids": ["D2:2"], "related": ["m1", "m0"]},
        # unrelated -> ADD
        {"index": 2, "speaker": "Ann", "fact": "My sister lives in Lisbon now", "dia_ids": ["D2:3"], "related": ["m0"]},
        # repeats fact 2 within the same step -> NOOP
        {"index": 3, "speaker": "Ann", "fact": "My sister lives in Lisbon", "dia_ids": ["D2:4"], "related": []},
    ]
    ops = Mem0Like().manage(manager_view(facts, memories)).operations
    assert isinstance(ops[0], NoopOp) and ops[0].memory_id == "m0"
    assert isinstance(ops[1], UpdateOp) and ops[1].memory_id == "m1"
    assert ops[1].content == facts[1]["fact"] and ops[1].dia_ids == ("D2:2",)
    assert isinstance(ops[2], AddOp) and ops[2].content == facts[2]["fact"] and ops[2].speaker == "Ann"
    assert isinstance(ops[3], NoopOp)


def test_update_appends_when_fact_adds_words_and_respects_speaker():
    memories = [{"memory_id": "m0", "content": "I play guitar in a jazz band", "speaker": "Ann"}]
    fact = {"index": 0, "speaker": "Ann", "fact": "I play guitar in a rock band", "dia_ids": [], "related": ["m0"]}
    (op,) = Mem0Like(update_threshold=0.5).manage(manager_view([fact], memories)).operations
    assert isinstance(op, UpdateOp) and op.content == "I play guitar in a jazz band I play guitar in a rock band"
    other = dict(fact, speaker="Bob")
    (op,) = Mem0Like(update_threshold=0.5).manage(manager_view([other], memories)).operations
    assert isinstance(op, AddOp)


def test_invalid_thresholds():
    with pytest.raises(ValueError):
        Mem0Like(update_threshold=0.9, duplicate_threshold=0.5)
    with pytest.raises(ValueError):
        Mem0Like(min_terms=0)


def test_registry_and_locomo_episode_is_valid_and_compresses_less_than_store_all():
    agent = make_agent("mem0-like")
    env = gym.make("MemoryR2/LoCoMo-v0", conversation="conv-30", max_sessions=3)
    result = run_episode(env, agent, seed=0)
    assert result.invalid_actions == 0
    assert result.entries > 0 and result.metrics["m_fail"] < 0.2
    store_all = run_episode(env, make_agent("store-all"), seed=0)
    no_memory = run_episode(env, make_agent("no-memory"), seed=0)
    assert result.tokens < store_all.tokens
    assert no_memory.score < result.score
