"""``grpo+local`` on a hand-built batch: rows, rewards, groups and advantages computed by hand."""

import pytest
import torch

from algorithms.estimators import ESTIMATORS, assign_advantages, build_rows
from algorithms.policies.base import Decision
from algorithms.rollouts import LocalGroup, RolloutBatch, Step, Trajectory
from memr2.results import slug


def step(role, session, penalty=0.0):
    return Step(role=role, session=session, chunk=0, decision=Decision(None, object(), torch.zeros(1)),
                reward=penalty, penalty=penalty)


def rollout(rollout_index, score, compression, session_rewards, penalties=()):
    steps = [step(role, s, dict(penalties).get((s, role), 0.0)) for s in (1, 2) for role in ("extractor", "manager")]
    return Trajectory(conversation=0, rollout=rollout_index, seed=7, steps=steps, score=score,
                      compression_penalty=compression, session_rewards=list(session_rewards))


@pytest.fixture
def batch():
    """One conversation, two rollouts of two sessions; rollout A's session-1 manager step was invalid (-0.1);
    one local group: session 2 of A rerolled twice."""
    a = rollout(0, 0.8, 0.1, [0.5, 0.9], penalties=[((1, "manager"), -0.1)])
    b = rollout(1, 0.4, 0.0, [0.3, 0.6])
    rerolls = [Trajectory(conversation=0, rollout=i, seed=7, steps=[step("extractor", 2), step("manager", 2)],
                          score=score, compression_penalty=compression)
               for i, (score, compression) in enumerate([(1.0, 0.2), (0.5, 0.0)])]
    return RolloutBatch(trajectories=[a, b], local_groups=[LocalGroup(0, 2, 0, rerolls)], env_steps=12)


def test_grpo_local_is_grpo_global_rows_plus_logo_local_rows(batch):
    assert ESTIMATORS["grpo+local"].needs_local and not ESTIMATORS["grpo"].needs_local
    rows = build_rows(batch, "grpo+local")
    # by hand: A's global rows carry 0.8 - 0.1 (0.6 on its invalid step), B's 0.4; the rerollouts 0.8 and 0.5
    assert [r.kind for r in rows] == ["global"] * 8 + ["local"] * 4
    assert [r.reward for r in rows] == pytest.approx([0.7, 0.6, 0.7, 0.7, 0.4, 0.4, 0.4, 0.4, 0.8, 0.8, 0.5, 0.5])
    assert [r.group for r in rows[:4]] == [("global", 0, s, role, 0) for s in (1, 2) for role in ("extractor", "manager")]
    assert rows[4].group == rows[0].group and rows[8].group == rows[10].group == ("local", 0, "extractor", 0)
    grpo, logo = build_rows(batch, "grpo"), build_rows(batch, "logo")
    assert [(r.reward, r.group, r.sample) for r in rows[:8]] == [(r.reward, r.group, r.sample) for r in grpo]
    assert [(r.reward, r.group, r.sample) for r in rows[8:]] == [(r.reward, r.group, r.sample) for r in logo[8:]]
    assert [r.reward for r in logo[:8]] != [r.reward for r in rows[:8]]  # logo credits sessions: 0.4, 0.3, 0.8, ...


def test_grpo_local_advantages_by_hand(batch):
    advantages = assign_advantages(build_rows(batch, "grpo+local"))
    # a group of two with rewards hi > lo: +-((hi - lo) / 2) / (|hi - lo| / sqrt(2) + 1e-4)
    half = lambda d: (d / 2) / (d / 2**0.5 + 1e-4)  # noqa: E731
    expected = [half(0.3), half(0.2), half(0.3), half(0.3), -half(0.3), -half(0.2), -half(0.3), -half(0.3),
                half(0.3), half(0.3), -half(0.3), -half(0.3)]
    assert advantages.tolist() == pytest.approx(expected)
    assert half(0.3) == pytest.approx(0.70677, abs=1e-5)  # the arithmetic itself, written out once


def test_estimator_names_become_distinct_file_names():
    names = sorted(ESTIMATORS)
    assert slug("grpo+local") == "grpo-local"  # '+' is not kept in result-file and study-cell names
    assert len({slug(name) for name in names}) == len(names)
