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
