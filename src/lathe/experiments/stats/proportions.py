"""Proportions: pooled two-proportion z-test, Wilson and Newcombe intervals, P(beat control).

The z-test is the pooled two-sided test of statsmodels' ``proportions_ztest`` (tests hold
them equal to 1e-9); it is written out here because importing statsmodels costs more than
the whole test on a million rows. Wilson's score interval and Newcombe's hybrid score
interval for a difference (Newcombe 1998, method 10) match statsmodels'
``proportion_confint(method="wilson")`` and ``confint_proportions_2indep(method="newcomb")``
and Newcombe's published worked examples.

>>> round(ztest_pooled(56, 70, 48, 80).p_value, 6)
0.008045
>>> [round(v, 4) for v in newcombe_interval(56, 70, 48, 80)]
[0.0524, 0.3339]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ZTest", "ztest_pooled", "wilson_interval", "newcombe_interval", "prob_beat_control"]


@dataclass(frozen=True)
class ZTest:
    statistic: float
    p_value: float
    difference: float  # treatment share minus control share


def _z(alpha: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(1.0 - alpha / 2.0))


def ztest_pooled(x_t: int, n_t: int, x_c: int, n_c: int) -> ZTest:
    """Two-sided pooled z-test of p_t - p_c = 0 (statsmodels' ``proportions_ztest``)."""
    from scipy.special import ndtr

    p_t, p_c = x_t / n_t, x_c / n_c
    pooled = (x_t + x_c) / (n_t + n_c)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c))
    diff = p_t - p_c
    if se == 0.0:  # both arms all 0 or all 1: nothing to tell apart
        return ZTest(float("nan"), float("nan") if diff == 0 else 0.0, diff)
    z = diff / se
    return ZTest(z, float(2.0 * ndtr(-abs(z))), diff)


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for one proportion.

    >>> [round(v, 4) for v in wilson_interval(81, 263)]  # Newcombe (1998a) example
    [0.2553, 0.3662]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    z = _z(alpha)
    p = x / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(x_t: int, n_t: int, x_c: int, n_c: int,
                      alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_t - p_c (his method 10)."""
    p_t, p_c = x_t / n_t, x_c / n_c
    l_t, u_t = wilson_interval(x_t, n_t, alpha)
    l_c, u_c = wilson_interval(x_c, n_c, alpha)
    diff = p_t - p_c
    lower = diff - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    upper = diff + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return (lower, upper)


def prob_beat_control(x_t: int, n_t: int, x_c: int, n_c: int,
                      prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """P(p_t > p_c) under independent Beta posteriors (Beta(1, 1) prior by default).

    The exact finite sum (Evan Miller, "Formulas for Bayesian A/B testing") over the
    treatment's successes, summed in log space; needs an integer prior alpha.

    >>> round(prob_beat_control(1, 2, 1, 2), 6)   # symmetric: a coin toss
    0.5
    """
    from scipy.special import betaln, logsumexp

    a_t, b_t = x_t + prior[0], n_t - x_t + prior[1]
    a_c, b_c = x_c + prior[0], n_c - x_c + prior[1]
    if a_t != int(a_t):
        raise ValueError("prob_beat_control needs an integer prior alpha (e.g. Beta(1, 1))")
    i = np.arange(int(a_t), dtype=float)
    log_terms = (betaln(a_c + i, b_c + b_t) - np.log(b_t + i)
                 - betaln(1.0 + i, b_t) - betaln(a_c, b_c))
    return float(min(1.0, max(0.0, math.exp(logsumexp(log_terms)))))
