"""Group advantages against hand-computed numbers (TRL's GRPO numerics by default)."""

import numpy as np
import pytest

from algorithms.advantages import frac_zero_std, group_advantages


def test_trl_numerics_one_group():
    # mean 0.25, Bessel std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5 -> 0.75 / 0.5001, -0.25 / 0.5001
    adv = group_advantages([1.0, 0.0, 0.0, 0.0], ["g"] * 4)
    np.testing.assert_allclose(adv, [0.75 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001])
    assert adv.round(4).tolist() == [1.4997, -0.4999, -0.4999, -0.4999]


def test_groups_are_independent_and_order_free():
    rewards = [1.0, 3.0, 10.0, 10.0, 0.0, 2.0]
    groups = ["a", "a", "b", "b", "c", "c"]
    adv = group_advantages(rewards, groups)
    # group a: mean 2, std sqrt(2); group b: zero std -> 0; group c: mean 1, std sqrt(2)
    s = np.sqrt(2.0) + 1e-4
    np.testing.assert_allclose(adv, [-1 / s, 1 / s, 0.0, 0.0, -1 / s, 1 / s])
    perm = [5, 2, 0, 3, 1, 4]
    adv_perm = group_advantages([rewards[i] for i in perm], [groups[i] for i in perm])
    np.testing.assert_allclose(adv_perm, adv[perm])


def test_dr_grpo_centres_only_and_batch_scaling():
    np.testing.assert_allclose(group_advantages([1.0, 0.0, 0.0, 0.0], [0] * 4, scale_rewards="none"), [0.75, -0.25, -0.25, -0.25])
    rewards, groups = [1.0, 0.0, 4.0, 2.0], [0, 0, 1, 1]
    batch_std = np.std(rewards, ddof=1)
    np.testing.assert_allclose(
        group_advantages(rewards, groups, scale_rewards="batch"), np.array([0.5, -0.5, 1.0, -1.0]) / (batch_std + 1e-4)
    )


def test_std_floor_and_singletons():
    adv = group_advantages([1.0, 0.0], [0, 0], std_floor=2.0, std_eps=0.0)  # std 0.707 < floor 2
    np.testing.assert_allclose(adv, [0.25, -0.25])
    assert group_advantages([5.0], ["alone"]).tolist() == [0.0]


def test_frac_zero_std_and_errors():
    assert frac_zero_std([1, 1, 0, 1], [0, 0, 1, 1]) == 0.5
    with pytest.raises(ValueError, match="equal length"):
        group_advantages([1.0, 2.0], [0])
    with pytest.raises(ValueError, match="scale_rewards"):
        group_advantages([1.0, 2.0], [0, 0], scale_rewards="rows")


def test_module_doctests():
    import doctest

    import algorithms
    import algorithms.advantages
    import algorithms.curriculum

    for module in (algorithms, algorithms.advantages, algorithms.curriculum):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
