"""Study statistics against hand-computed numbers: the sign-flip test, Holm's adjustment and the power formulas."""

import itertools

import numpy as np
import pytest

from memr2.stats import holm, holm_levels, minimal_detectable_effect, seeds_needed, sign_flip_p_value


def test_sign_flip_p_value_enumerates_every_sign_assignment():
    diffs = [0.3, -0.1, 0.2, 0.4]
    observed = abs(np.mean(diffs))
    means = [abs(np.mean([s * d for s, d in zip(signs, diffs)])) for signs in itertools.product([1, -1], repeat=4)]
    assert sign_flip_p_value(diffs) == pytest.approx(sum(m >= observed - 1e-12 for m in means) / 16)
    assert sign_flip_p_value(diffs) == pytest.approx(4 / 16)  # by hand: +-(.3,.2,.4 kept with -.1 either way)


def test_sign_flip_monte_carlo_agrees_with_the_exact_test_and_is_seeded():
    rng = np.random.default_rng(3)
    diffs = list(rng.normal(0.05, 0.1, size=20))
    p = sign_flip_p_value(diffs)
    assert p == sign_flip_p_value(diffs)  # deterministic: tables regenerate identically
    # a shifted copy far from zero is significant; one centred at zero is not
    assert sign_flip_p_value([d + 1.0 for d in diffs]) < 1e-3
    assert sign_flip_p_value([d - float(np.mean(diffs)) for d in diffs]) > 0.5


def test_holm_adjusts_by_rank_and_stays_monotone():
    p = [0.001, 0.02, 0.015, 0.2]
    # sorted: 0.001*4 = 0.004, 0.015*3 = 0.045, 0.02*2 = 0.04 -> 0.045 (monotone), 0.2*1 = 0.2
    assert holm(p) == pytest.approx([0.004, 0.045, 0.045, 0.2])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_levels(p) == pytest.approx([1 - 0.05 / 4, 1 - 0.05 / 2, 1 - 0.05 / 3, 0.95])


def test_power_formulas_are_inverse_of_each_other():
    # (1.95996 + 0.84162)^2 * (0.12 / 0.05)^2 = 45.2 -> 46 seeds: the "25-45 seeds per cell"
    assert seeds_needed(0.12, 0.05) == 46
    assert seeds_needed(0.09, 0.05) == 26
    n = seeds_needed(0.1, 0.04, alpha=0.05 / 6)
    assert minimal_detectable_effect(0.1, n, alpha=0.05 / 6) <= 0.04 < minimal_detectable_effect(0.1, n - 1, alpha=0.05 / 6)
    with pytest.raises(ValueError):
        seeds_needed(0.1, 0.0)


def test_student_t_quantiles_match_the_printed_tables_and_approach_the_normal():
    from memr2.stats import student_t_quantile

    # two-sided 95 % critical values from any t table
    for df, value in [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)]:
        assert student_t_quantile(0.975, df) == pytest.approx(value, abs=2e-3)
    assert student_t_quantile(0.95, 5) == pytest.approx(2.015, abs=2e-3)
    assert student_t_quantile(0.975, 10_000) == pytest.approx(1.960, abs=2e-3)
    with pytest.raises(ValueError):
        student_t_quantile(0.4, 3)


def test_t_interval_is_mean_plus_minus_t_times_the_standard_error():
    from memr2.stats import t_interval

    mean, low, high = t_interval([0.1, 0.3, 0.2, 0.4])  # mean 0.25, s = 0.1291, se = 0.06455, t_{.975,3} = 3.182
    assert mean == pytest.approx(0.25)
    assert (high - mean) == pytest.approx(3.182 * 0.1290994 / 2, abs=1e-3) and (mean - low) == pytest.approx(high - mean)
    with pytest.raises(ValueError, match="two values"):
        t_interval([0.5])
