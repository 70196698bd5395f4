"""Bootstrap percentile intervals for a difference in means, fast on heavy-tailed counts.

Resampling n rows with replacement is the same as drawing, for each distinct value, how
many times it is picked: a multinomial over the distinct values with their frequencies.
Counts such as game rounds have a few thousand distinct values among a million rows, so a
resample costs O(distinct) instead of O(n); data with many distinct values falls back to
resampling rows in batches. Either way the law of the resampled mean is the bootstrap's.
When even that exceeds ``ROW_BUDGET`` draws (a million distinct values), the interval is the
normal one of Welch's test, which the central limit theorem makes exact enough at that size;
``bootstrap_diff_interval`` says which method it used.
(SciPy's ``scipy.stats.bootstrap`` resamples rows, too slow at a million; tests hold the
two intervals together within Monte Carlo error.)

>>> rng = np.random.default_rng(1)
>>> (lo, hi), method = bootstrap_diff_interval(rng.exponential(2.0, 4000), rng.exponential(2.0, 4000))
>>> lo < 0 < hi
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_means", "bootstrap_diff_interval", "feasible"]

DISTINCT_BUDGET = 4_000_000  # distinct values x resamples for the multinomial route
ROW_BUDGET = 50_000_000  # rows x resamples for the row route


def bootstrap_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`resamples` bootstrap means of `values`."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return np.full(resamples, np.nan)
    distinct, counts = np.unique(x, return_counts=True)
    if distinct.size * resamples <= DISTINCT_BUDGET:
        picks = rng.multinomial(n, counts / n, size=resamples)
        return picks @ distinct / n
    out = np.empty(resamples)
    batch = max(1, 5_000_000 // n)
    for start in range(0, resamples, batch):
        stop = min(resamples, start + batch)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def feasible(values: np.ndarray, resamples: int) -> bool:
    """Whether `bootstrap_means` stays within its budgets for these values."""
    x = np.asarray(values)
    return x.size * resamples <= ROW_BUDGET or np.unique(x).size * resamples <= DISTINCT_BUDGET


def bootstrap_diff_interval(treatment: np.ndarray, control: np.ndarray, *, alpha: float = 0.05,
                            resamples: int = 2000, seed: int = 0
                            ) -> tuple[tuple[float, float], str]:
    """Percentile interval of mean(treatment) - mean(control), arms resampled independently,
    and the method used ("bootstrap", or "normal" past the budgets)."""
    if not (feasible(treatment, resamples) and feasible(control, resamples)):
        from lathe.experiments.stats.means import summarize, welch

        return welch(summarize(treatment), summarize(control), alpha).ci, "normal"
    rng = np.random.default_rng(seed)
    diffs = bootstrap_means(treatment, resamples, rng) - bootstrap_means(control, resamples, rng)
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi)), "bootstrap"
