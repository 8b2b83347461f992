"""Rollouts and local rerollouts on Synthetic-v0 with the FeaturePolicy; estimators on one fixed batch."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import memenv  # noqa: F401
from algorithms.estimators import assign_advantages, build_rows
from algorithms.policies.feature import FeaturePolicy
from algorithms.rollouts import collect_rollouts, evaluate_policy


def make_env():
    return gym.make("MemoryR2/Synthetic-v0", max_sessions=3)


@pytest.fixture(scope="module")
def batch():
    policy = FeaturePolicy(seed=0)
    return collect_rollouts(
        make_env, [7, 8], policy, num_generations=3, generator=torch.Generator().manual_seed(0),
        rng=np.random.default_rng(0), local_num_generations=4, local_prob=1.0, record_states=True,
    )


def test_global_rollouts_cover_the_horizon(batch):
    assert len(batch.trajectories) == 6
    for traj in batch.trajectories:
        assert len(traj.steps) == 2 * 3  # extractor + manager per session (one chunk)
        assert [s.role for s in traj.steps[:2]] == ["extractor", "manager"]
        assert len(traj.session_rewards) == 3 and 0.0 <= traj.score <= 1.0
    # same conversation within a group: identical first observation, different sampled decisions
    first = [t for t in batch.trajectories if t.conversation == 0]
    assert len({t.session_states[1] for t in first}) == 1
    assert len({tuple(tuple(s.decision.sample.actions) for s in t.steps) for t in first}) > 1


def test_local_rerollouts_start_from_the_source_state(batch):
    assert len(batch.local_groups) == 2 * 3  # local_prob=1: every session of both conversations
    for group in batch.local_groups:
        source = next(
            t for t in batch.trajectories if t.conversation == group.conversation and t.rollout == group.source_rollout
        )
        assert group.snapshot_state == source.session_states[group.session]
        assert all(r.start_state == source.session_states[group.session] for r in group.rerollouts)
        assert len(group.rerollouts) == 4
        assert all(len(r.steps) == 2 and r.steps[0].session == group.session for r in group.rerollouts)
        # sampling is on: the m rerollouts do not all take the same decisions
        assert len({tuple(tuple(s.decision.sample.actions) for s in r.steps) for r in group.rerollouts}) > 1


def test_switching_estimator_changes_only_rows_and_advantages(batch):
    rows = {name: build_rows(batch, name) for name in ("grpo", "global", "logo", "local")}
    global_samples = [id(s.decision.sample) for t in batch.trajectories for s in t.steps]
    for name in ("grpo", "global"):
        assert [id(r.sample) for r in rows[name]] == global_samples
        assert all(r.kind == "global" for r in rows[name])
    assert [id(r.sample) for r in rows["logo"][: len(global_samples)]] == global_samples
    assert [r.reward for r in rows["logo"][: len(global_samples)]] == [r.reward for r in rows["global"]]
    local = [r for r in rows["logo"] if r.kind == "local"]
    assert [id(r.sample) for r in local] == [id(r.sample) for r in rows["local"]] and len(local) == 6 * 4 * 2
    # rewards: grpo credits the terminal score everywhere; global credits the session's own questions
    traj = batch.trajectories[0]
    grpo_rewards = {r.reward for r in rows["grpo"][:6]}
    assert grpo_rewards == {traj.score - traj.compression_penalty}
    expected = [traj.session_rewards[s.session - 1] - traj.compression_penalty + s.penalty for s in traj.steps]
    assert [r.reward for r in rows["global"][:6]] == pytest.approx(expected)
    group = batch.local_groups[0]
    assert {r.reward for r in rows["local"][:8]} == {t.score - t.compression_penalty for t in group.rerollouts}
    advantages = {name: assign_advantages(r) for name, r in rows.items()}
    assert not np.allclose(advantages["grpo"], advantages["global"])
    # groups: n rows per (conversation, session, role) globally, m rows per local group and role
    sizes = np.unique([r.group for r in rows["global"]], return_counts=True, axis=0)[1]
    assert set(sizes.tolist()) == {3}


def test_logo_sum_anchors_each_source_step_in_its_local_group(batch):
    env = make_env().unwrapped
    env.reset(seed=7)
    for group in batch.local_groups:  # the source's own session reward, measured at the next session's start
        source = next(t for t in batch.trajectories
                      if t.conversation == group.conversation and t.rollout == group.source_rollout)
        if group.session < 3:
            env.set_state(source.session_states[group.session + 1])
            assert group.source_reward == pytest.approx(env.session_reward())
    rows = build_rows(batch, "logo-sum")
    logo = build_rows(batch, "logo")
    assert [id(r.sample) for r in rows] == [id(r.sample) for r in logo]
    assert [r.reward for r in rows] == [r.reward for r in logo]
    anchored = [r for r in rows if r.anchor_group is not None]
    assert len(anchored) == len(batch.local_groups) * 2  # extractor + manager step of each rerolled session
    weight = 0.5
    advantages = assign_advantages(rows, local_advantage_weight=weight)
    # by hand: the global z-score plus weight times the z-score among the m rerollouts and the source
    row = anchored[0]
    members = [r.reward for r in rows if r.group == row.anchor_group] + [row.anchor_reward]
    peers = [r.reward for r in rows if r.group == row.group]
    by_hand = ((row.reward - np.mean(peers)) / (np.std(peers, ddof=1) + 1e-4)
               + weight * (row.anchor_reward - np.mean(members)) / (np.std(members, ddof=1) + 1e-4))
    assert advantages[rows.index(row)] == pytest.approx(by_hand)
    plain = [i for i, r in enumerate(rows) if r.kind == "global" and r.anchor_group is None]
    assert np.allclose(advantages[plain], assign_advantages(build_rows(batch, "global"))[plain])


def test_rollouts_are_reproducible():
    def run():
        return collect_rollouts(
            make_env, [3], FeaturePolicy(seed=1), num_generations=2, generator=torch.Generator().manual_seed(5),
            rng=np.random.default_rng(5), local_num_generations=2, local_prob=0.5,
        )

    a, b = run(), run()
    assert [t.score for t in a.trajectories] == [t.score for t in b.trajectories]
    assert [g.session for g in a.local_groups] == [g.session for g in b.local_groups]


def test_greedy_evaluation_is_deterministic():
    policy = FeaturePolicy(seed=2)
    one = evaluate_policy(make_env, [11, 12], policy, torch.Generator())
    two = evaluate_policy(make_env, [11, 12], policy, torch.Generator().manual_seed(99))
    assert one == two and one["env_steps"] == 2 * 6


def test_trajectory_rewards_are_the_envs_own(batch):
    """The trainer does not subtract the compression penalty itself: a rollout's reward is what the env paid at
    its last step (less that step's invalid-action penalty), a rerollout's what its env pays as session reward."""
    for traj in batch.trajectories:
        last = traj.steps[-1]
        assert traj.reward == pytest.approx(last.reward - last.penalty, abs=1e-12)
        assert [traj.session_reward(s) for s in (1, 2, 3)] == pytest.approx(
            [r - traj.compression_penalty for r in traj.session_rewards])
    group = batch.local_groups[0]
    source = next(t for t in batch.trajectories
                  if t.conversation == group.conversation and t.rollout == group.source_rollout)
    env = make_env().unwrapped  # replay the source rollout's bank to its session end: its env's session reward
    from memenv.state import EnvState
    env.reset(seed=source.seed)
    env.set_state(EnvState.model_validate_json(source.session_states[group.session + 1]))
    assert group.source_reward == pytest.approx(env.session_reward(), abs=1e-12)


def test_episode_outcome_is_one_reader_for_eval_and_training():
    """``run_episode`` (eval) and the trainer's rollouts read an episode's end through ``episode_outcome``: on the
    same seed and actions they report the same score, session rewards, bank and penalty; a truncated episode is
    scored on the bank it left."""
    from agents.rollout import episode_outcome, run_episode
    from algorithms.rollouts import Trajectory, _finish_global

    class Adder:
        def act(self, observation, info):
            return "- Alice likes tea" if info["role"] == "extractor" else "ADD: Alice likes tea " + "and long walks " * 60

    result = run_episode(make_env(), Adder(), seed=3)
    env = make_env().unwrapped
    _, info = env.reset(seed=3)
    while not info.get("metrics"):
        _, _, _, _, info = env.step(Adder().act(None, info))
    traj = Trajectory(conversation=0, rollout=0, seed=3)
    _finish_global(traj, env, info)
    assert (traj.score, traj.session_rewards, traj.entries, traj.tokens) == (
        result.score, result.session_rewards, result.entries, result.tokens)
    assert traj.compression_penalty == env.compression_penalty() > 0
    cut = gym.make("MemoryR2/Synthetic-v0", max_sessions=3, max_episode_steps=2)
    short = run_episode(cut, Adder(), seed=3)
    assert short.steps == 2 and short.entries == 1
    assert short.score == episode_outcome(cut.unwrapped, {})["score"] == cut.unwrapped.score("all")["score"]
