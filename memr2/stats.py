"""Statistics for result tables: means with percentile-bootstrap confidence intervals (deterministic)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` and its percentile-bootstrap confidence interval.

    The resampling generator is seeded, so a table regenerated from the same results is identical. With one value
    the interval is that value.

    >>> bootstrap_ci([0.5, 0.5, 0.5])
    (0.5, 0.5, 0.5)
    >>> mean, low, high = bootstrap_ci([0.0, 1.0, 0.0, 1.0])
    >>> mean, low <= mean <= high, 0.0 <= low and high <= 1.0
    (0.5, True, True)
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(low), float(high)


def format_ci(values: Sequence[float], digits: int = 3) -> str:
    """``"mean ± half-width [low, high]"`` for several values, ``"mean"`` for one.

    >>> format_ci([0.25])
    '0.250'
    """
    mean, low, high = bootstrap_ci(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def sign_flip_p_value(differences: Sequence[float], *, resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of "the mean paired difference is 0" by a sign-flip randomization test.

    Under the null each difference is as likely to have the other sign, so the p-value is the share of sign
    assignments whose mean is at least as far from 0 as the observed one. Exact (every assignment) for up to 16
    differences, else ``resamples`` seeded random assignments (the observed one counts, so p > 0).

    >>> sign_flip_p_value([1.0, 2.0, 3.0])  # only all-positive and all-negative reach |mean| = 2: 2 of 8
    0.25
    >>> sign_flip_p_value([0.0, 0.0])
    1.0
    """
    data = np.asarray(differences, dtype=np.float64)
    if data.size == 0:
        raise ValueError("sign_flip_p_value needs at least one difference")
    observed = abs(data.mean()) - 1e-12  # ties count as at least as extreme
    if data.size <= 16:
        signs = 1 - 2 * ((np.arange(2**data.size)[:, None] >> np.arange(data.size)) & 1)
        return float(np.mean(np.abs((signs * data).mean(axis=1)) >= observed))
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(resamples, data.size))
    extreme = np.sum(np.abs((signs * data).mean(axis=1)) >= observed)
    return float((extreme + 1) / (resamples + 1))


def one_sided_p_value(differences: Sequence[float]) -> float:
    """One-sided p-value of "the mean difference is above 0", from :func:`sign_flip_p_value` (whose null
    distribution is symmetric): half the two-sided p when the observed mean is positive, else one minus that.

    >>> one_sided_p_value([1.0, 2.0, 3.0]), one_sided_p_value([-1.0, -2.0, -3.0])
    (0.125, 0.875)
    """
    two_sided = sign_flip_p_value(differences)
    return two_sided / 2 if sum(differences) > 0 else 1.0 - two_sided / 2


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order: the i-th smallest p times (m - i + 1),
    made non-decreasing along that order and capped at 1. Rejecting where the adjusted p < alpha keeps the
    family-wise error rate at alpha over all m comparisons.

    >>> holm([0.01, 0.04, 0.03])  # sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, 0.06 (kept monotone)
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = round(running, 12)
    return adjusted


def holm_levels(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """The confidence level of each comparison's interval under Holm's procedure: the i-th smallest p-value is
    tested at alpha / (m - i + 1), so its interval is drawn at 1 - alpha / (m - i + 1).

    >>> [round(x, 4) for x in holm_levels([0.01, 0.04, 0.03])]
    [0.9833, 0.95, 0.975]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    levels = [0.0] * m
    for rank, i in enumerate(order):
        levels[i] = 1.0 - alpha / (m - rank)
    return levels


def _z(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def seeds_needed(sd: float, effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Paired seeds needed to detect a mean difference ``effect`` whose per-seed differences have standard
    deviation ``sd``, two-sided at ``alpha`` with ``power`` (normal approximation: n = ((z_{1-a/2} + z_power)
    sd / effect)^2, rounded up). Pass alpha / m for m comparisons under Holm (its first, strictest step).

    >>> seeds_needed(0.1, 0.05)  # (1.960 + 0.842)^2 * 4 = 31.4
    32
    """
    if sd < 0 or effect <= 0:
        raise ValueError("seeds_needed needs sd >= 0 and effect > 0")
    return max(2, int(np.ceil(((_z(1 - alpha / 2) + _z(power)) * sd / effect) ** 2)))


def minimal_detectable_effect(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest mean paired difference that ``n`` seeds detect with ``power`` at two-sided ``alpha``: the
    inverse of :func:`seeds_needed`, (z_{1-a/2} + z_power) sd / sqrt(n).

    >>> round(minimal_detectable_effect(0.1, 32), 4)
    0.0495
    """
    if n < 1:
        raise ValueError("minimal_detectable_effect needs n >= 1")
    return float((_z(1 - alpha / 2) + _z(power)) * sd / np.sqrt(n))


def student_t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0.5 < p < 1``), by bisection on its CDF
    integrated numerically from the density (numpy only; accurate to ~1e-4).

    >>> round(student_t_quantile(0.975, 2), 3), round(student_t_quantile(0.975, 10), 3)
    (4.303, 2.228)
    """
    if not 0.5 < p < 1 or df < 1:
        raise ValueError("student_t_quantile needs 0.5 < p < 1 and df >= 1")
    from math import lgamma, pi

    log_norm = lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * np.log(df * pi)

    def cdf(x: float) -> float:  # 0.5 + the density's integral over [0, x], in u = atan(t / sqrt(df)) (finite)
        u = np.linspace(0.0, np.arctan(x / np.sqrt(df)), 20_001)
        t = np.sqrt(df) * np.tan(u)
        density = np.exp(log_norm - (df + 1) / 2 * np.log1p(t * t / df)) * np.sqrt(df) / np.cos(u) ** 2
        return 0.5 + float(np.trapezoid(density, u))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its Student-t confidence interval, mean ± t_{(1+c)/2, n-1} s / sqrt(n).
    Unlike a bootstrap over a handful of seeds, it widens honestly when n is small.

    >>> mean, low, high = t_interval([1.0, 2.0, 3.0])  # s = 1, t_{0.975, 2} = 4.303
    >>> round(mean, 3), round(low, 3), round(high, 3)
    (2.0, -0.484, 4.484)
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        raise ValueError("t_interval needs at least two values")
    mean = float(data.mean())
    half = student_t_quantile((1 + confidence) / 2, data.size - 1) * float(data.std(ddof=1)) / np.sqrt(data.size)
    return mean, float(mean - half), float(mean + half)
