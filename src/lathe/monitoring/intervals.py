"""Confidence intervals for metrics over a window: Wilson's score interval for proportions
(accuracy), a percentile bootstrap for the rest.

>>> lo, hi = wilson(81, 263)   # Wilson (1927); Newcombe (1998) Table I example 81/263
>>> round(lo, 4), round(hi, 4)
(0.2553, 0.3662)
>>> import numpy as np
>>> lo, hi = bootstrap(lambda i: float(np.mean(np.arange(100)[i])), 100, resamples=200)
>>> lo < 49.5 < hi
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["wilson", "bootstrap", "Z95"]

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(centre - half, 0.0)), float(min(centre + half, 1.0)))


def bootstrap(statistic: Callable[[np.ndarray], float | None], n: int, *, resamples: int = 200,
              seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic(row_indices)` over `n` rows; None when the
    statistic is undefined on most resamples (e.g. AUC with one class)."""
    if n <= 1:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        got = statistic(rng.integers(0, n, n))
        if got is not None and np.isfinite(got):
            values.append(got)
    if len(values) < resamples // 2:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return (float(lo), float(hi))
