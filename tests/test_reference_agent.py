"""The ``reference`` agent: non-privileged, inside the FeaturePolicy's action set, far above store-all, and its
rule extractor keeps exactly the world's fact turns."""

import gymnasium as gym
import pytest

import memenv  # noqa: F401
from agents.baselines import StoreAll
from agents.reference import ReferenceAgent, is_fact_turn, statement_key
from agents.registry import make_agent
from agents.restricted_oracle import manager_operations, related_slots
from agents.rollout import run_episode
from memenv.actions import Fact
from memenv.data import synthetic
from memenv.envs.synthetic import SyntheticV1Env
from memenv.views import ExtractorView
from memr2.cli import main
from memr2.results import is_privileged, read_result

GOLD_KEYS = {"gold", "gold_facts"}


class Spy(dict):
    """An info dict that records which keys the agent reads."""

    def __init__(self, info, seen):
        super().__init__(info)
        self.seen = seen

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)


def play(env, agent, seed, wrap=lambda info: info):
    """Run one episode, returning (score, [(view, action)])."""
    obs, info = env.reset(seed=seed)
    steps, done = [], False
    while not done:
        action = agent.act(obs, wrap(info))
        steps.append((info["view"], action))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return info["metrics"]["score"], steps


def feature_options(view, fact, num_slots=5):
    """The operations of each FeaturePolicy option for one fact (delete keeps the fact, as the study's config)."""
    alone = view.model_copy(update={"facts": (fact,)})
    k = len(related_slots(fact, view, num_slots))
    choices = [0, 1] + [2 + j for j in range(k)] + [2 + num_slots + j for j in range(k)]
    return [manager_operations(alone, [c], num_slots, delete_keeps_fact=True).operations for c in choices]


def in_action_set(view, action) -> bool:
    """Whether ``action`` is one FeaturePolicy option per turn (extractor) or per fact (manager), in order."""
    if isinstance(view, ExtractorView):
        verbatim = [Fact(speaker=t.speaker, fact=t.text, dia_ids=(t.dia_id,)) for t in view.turns]
        it = iter(verbatim)
        return all(fact in it for fact in action.facts)  # a subsequence of the turns, verbatim
    ops, start = list(action.operations), 0
    for fact in view.facts:
        match = [o for o in feature_options(view, fact) if tuple(ops[start : start + len(o)]) == o]
        if not match:
            return False
        start += len(max(match, key=len))
    return start == len(ops)


def test_reference_is_not_privileged_and_runs_on_an_unprivileged_env(tmp_path):
    agent = make_agent("reference")
    assert isinstance(agent, ReferenceAgent) and agent.privileged is False
    assert not is_privileged("reference", "MemoryR2/LoCoMo-v0", {})
    assert main(["eval", "--env", "MemoryR2/Synthetic-v1", "--max-sessions", "4", "--agent", "reference",
                 "--episodes", "2", "--output-dir", str(tmp_path), "--no-progress"]) == 0
    (path,) = tmp_path.glob("*.json")
    result = read_result(path)
    assert result.privileged is False and "privileged" not in result.env_kwargs
    assert result.metrics.score > 0.9


def test_reference_never_reads_gold_and_acts_the_same_with_or_without_it():
    plain = gym.make("MemoryR2/Synthetic-v1", max_sessions=4)
    gold = gym.make("MemoryR2/Synthetic-v1", max_sessions=4, privileged=True)
    assert not plain.unwrapped.privileged and not GOLD_KEYS & set(plain.reset(seed=5)[1])
    assert GOLD_KEYS <= set(gold.reset(seed=5)[1])  # the privileged env offers gold ...
    seen: set[str] = set()
    score_gold, steps_gold = play(gold, ReferenceAgent(), seed=5, wrap=lambda info: Spy(info, seen))
    score_plain, steps_plain = play(plain, ReferenceAgent(), seed=5)
    assert seen == {"view"}  # ... and the agent reads nothing but the view
    assert score_gold == score_plain and [a for _, a in steps_gold] == [a for _, a in steps_plain]


def test_every_reference_action_is_in_the_feature_policy_action_set():
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=16)
    kinds = set()
    for seed in range(3):
        _, steps = play(env, ReferenceAgent(), seed)
        for view, action in steps:
            assert in_action_set(view, action), (view, action)
            kinds |= {op.op for op in getattr(action, "operations", ())}
    assert {"ADD", "UPDATE", "DELETE"} <= kinds  # the check saw every kind of operation


def test_in_action_set_rejects_what_a_feature_policy_cannot_write():
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=8)
    _, steps = play(env, ReferenceAgent(), seed=1)
    view, action = next((v, a) for v, a in steps if any(op.op == "UPDATE" for op in getattr(a, "operations", ())))
    rewritten = tuple(op.model_copy(update={"content": "Maya's city is Oslo."}) if op.op == "UPDATE" else op
                      for op in action.operations)
    assert not in_action_set(view, action.model_copy(update={"operations": rewritten}))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_reference_beats_store_all_by_a_wide_margin_at_8_sessions(seed):
    env = gym.make("MemoryR2/Synthetic-v1", max_sessions=8)
    reference = run_episode(env, ReferenceAgent(), seed=seed).score
    store_all = run_episode(env, StoreAll(), seed=seed).score
    assert reference >= store_all + 0.5 and reference >= 0.9


def test_rule_extractor_keeps_exactly_the_gold_fact_turns_and_reads_their_keys():
    world = SyntheticV1Env(max_sessions=8).world
    sessions = facts = 0
    for seed in range(40):  # 320 sessions
        conversation = synthetic.generate(world, seed=seed)
        gold = {f["dia_id"]: f for f in conversation.meta["facts"]}
        turns = [t for s in conversation.sessions for t in s.turns]
        assert {t.dia_id for t in turns if is_fact_turn(t.text)} == set(gold)
        for turn in turns:
            if turn.dia_id in gold:
                assert statement_key(turn.text) == (gold[turn.dia_id]["entity"], gold[turn.dia_id]["attribute"])
        sessions += len(conversation.sessions)
        facts += len(gold)
    assert sessions == 320 and facts > 1000


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="target"):
        ReferenceAgent(target="middle")
