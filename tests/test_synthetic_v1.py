"""Synthetic-v1: the strict retrieval-based reader, evidence session credit, privileged opt-in, baselines, probe."""

from __future__ import annotations

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from agents.baselines import NoMemory, Oracle, StoreAll
from agents.decision_probe import probe, summarize_probe
from agents.mem0_like import Mem0Like
from agents.restricted_oracle import RestrictedOracle, updated_content
from agents.rollout import run_episode
from memenv.bank import MemoryBank
from memenv.data.schema import QA
from memenv.scoring.rule import RuleScorer, memory_claims

CITY = {"entity": "Maya", "keywords": ["city"], "values": ["Porto", "Lisbon"], "cues": ["city", "lives", "moved"]}


def _bank(*contents: str) -> MemoryBank:
    bank = MemoryBank()
    for content in contents:
        bank, _ = bank.add(content)
    return bank


def _current() -> QA:
    return QA(question="Which city does Maya live in?", answer="Lisbon", category="current", session=2, meta=CITY)


def _history() -> QA:
    meta = {**CITY, "pivot": "Lisbon"}
    return QA(question="What was Maya's city before Lisbon?", answer="Porto", category="history", session=2, meta=meta)


def test_v1_is_registered_with_its_documented_defaults():
    env = gym.make("MemoryR2/Synthetic-v1").unwrapped
    assert (env.scorer.top_k, env.scorer.strict) == (5, True)
    assert (env.session_credit, env.retrieval_k, env.world.question_evidence) == ("evidence", 5, "chain")
    v0 = gym.make("MemoryR2/Synthetic-v0").unwrapped
    assert (v0.scorer.top_k, v0.scorer.strict, v0.session_credit, v0.retrieval_k) == (None, False, "latest", 5)


def test_a_stale_value_next_to_the_current_one_scores_zero_only_when_strict():
    bank = _bank("Maya lives in Porto these days.", "Maya just moved to Lisbon!")
    assert RuleScorer().score([_current()], bank)[0].score == 0.5
    assert RuleScorer(top_k=5, strict=True).score([_current()], bank)[0].score == 0.0
    assert RuleScorer(top_k=5, strict=True).score([_current()], _bank("Maya just moved to Lisbon!"))[0].score == 1.0


def test_strict_history_needs_an_explicit_past_claim():
    bank = _bank("Maya lives in Porto these days.", "Maya just moved to Lisbon!")
    assert RuleScorer().score([_history()], bank)[0].score == 1.0  # v0's fallback: "every value but the latest"
    assert RuleScorer(top_k=5, strict=True).score([_history()], bank)[0].score == 0.0
    updated = _bank(updated_content("Maya just moved to Lisbon!", "Maya lives in Porto these days."))
    assert RuleScorer(top_k=5, strict=True).score([_current(), _history()], updated)[1].score == 1.0


def test_claims_are_credited_per_memory_so_the_wrong_update_target_cannot_score():
    # UPDATE of Maya's job memory with the city fact leaves "Previously ... Porto" inside a memory about the job
    wrong = updated_content("Maya works as a nurse.", "Maya lives in Porto these days.")
    right = "Maya just moved to Lisbon!"
    claims = memory_claims(list(_bank(wrong, right)), "Maya", ["city"], ["Porto", "Lisbon"])
    assert claims.current == {"Lisbon"} and claims.past == set()
    assert RuleScorer(top_k=5, strict=True).score([_history()], _bank(wrong, right))[0].score == 0.0


def test_the_reader_sees_only_the_top_k_retrieved_memories():
    crowd = [f"Maya moved her {word} desk, she lives in the city." for word in ("green", "big", "old", "new", "oak")]
    bank = _bank("Maya just moved to Lisbon!", *crowd)
    assert RuleScorer(strict=True).score([_current()], bank)[0].score == 1.0  # reads every memory naming Maya
    assert RuleScorer(top_k=2, strict=True).score([_current()], bank)[0].score == 0.0
    with pytest.raises(ValueError, match="top_k"):
        RuleScorer(top_k=0)


@pytest.mark.parametrize("env_id", ["MemoryR2/Synthetic-v0", "MemoryR2/Synthetic-v1"])
def test_an_unprivileged_env_gives_no_gold_to_any_agent(env_id):
    env = gym.make(env_id, max_sessions=3)
    infos = []
    run_episode(env, StoreAll(), seed=0, on_step=infos.append)
    assert infos and not any("gold" in info or "gold_facts" in info for info in infos)
    with pytest.raises(ValueError, match="privileged"):
        run_episode(env, Oracle(), seed=0)
    with pytest.raises(ValueError, match="privileged"):
        run_episode(env, RestrictedOracle(), seed=0)


@pytest.mark.parametrize("seed", [100000, 100001])
def test_v1_baselines_at_8_sessions_leave_room_that_targeted_updates_fill(seed):
    env = gym.make("MemoryR2/Synthetic-v1")
    gold = gym.make("MemoryR2/Synthetic-v1", privileged=True)
    none = run_episode(env, NoMemory(), seed=seed)
    store = run_episode(env, StoreAll(), seed=seed)
    mem0 = run_episode(env, Mem0Like(), seed=seed)
    oracle = run_episode(gold, Oracle(), seed=seed)
    restricted = run_episode(gold, RestrictedOracle(), seed=seed)
    assert none.score == 0.0 and oracle.score == 1.0
    assert restricted.score >= 0.9
    assert store.score <= 0.5 * oracle.score and mem0.score <= 0.5 * oracle.score, (store.score, mem0.score)


def test_evidence_credit_gives_every_session_that_told_a_change_a_reward_of_its_own():
    def rewards(env_id):
        result = run_episode(gym.make(env_id, privileged=True), RestrictedOracle(), seed=3)
        return result.session_rewards, result.qa

    v0_rewards, _ = rewards("MemoryR2/Synthetic-v0")
    v1_rewards, qa = rewards("MemoryR2/Synthetic-v1")
    env = gym.make("MemoryR2/Synthetic-v1").unwrapped
    env.reset(seed=3)
    told = {int(f["dia_id"][1:].split(":")[0]) for f in env.conversation.meta["facts"]}
    credited = {int(d[1:].split(":")[0]) for q in env.conversation.questions for d in q.evidence}
    assert told <= credited  # every session that told a change holds evidence of some question
    # hand-computed: session s's reward is the mean score of the questions with evidence in s
    for s in sorted(told):
        scores = [r["score"] for q, r in zip(env.conversation.questions, qa)
                  if any(d.startswith(f"D{s}:") for d in q.evidence)]
        assert v1_rewards[s - 1] == pytest.approx(sum(scores) / len(scores))
    assert len(v0_rewards) == len(v1_rewards)


def _probe_summary(seeds):
    return summarize_probe(probe(gym.make("MemoryR2/Synthetic-v1", privileged=True), seeds))


def _check_probe(summary):
    for kind in ("correct-update", "correct-delete"):
        assert summary[kind]["session_delta"] > 0 and summary[kind]["return_delta"] > 0, (kind, summary[kind])
    for kind in ("wrong-update", "spurious-delete"):
        assert summary[kind]["session_delta"] < 0 and summary[kind]["return_delta"] < 0, (kind, summary[kind])


def test_decision_value_probe_correct_swaps_pay_and_wrong_ones_cost():
    _check_probe(_probe_summary([100000, 100001]))


@pytest.mark.slow
def test_decision_value_probe_over_a_thousand_swaps():
    summary = _probe_summary(range(6))
    assert sum(row["count"] for row in summary.values()) >= 1000
    _check_probe(summary)
