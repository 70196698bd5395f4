"""Means: per-variant summaries, Welch's t, the delta method, ratio metrics, Mann-Whitney U.

Welch's test is SciPy's ``ttest_ind(equal_var=False)`` computed from the arms' summaries
with ``scipy.special.stdtr`` (tests hold the two equal to 1e-9): a million rows cost one pass
each and the CLI does not import scipy.stats. The relative lift ``mean_t / mean_c - 1`` gets its interval from the delta method
(Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics"); so does a ratio
metric such as clicks per session, whose units are sessions' owners rather than rows.

>>> rng = np.random.default_rng(0)
>>> t, c = summarize(rng.normal(10.5, 2, 500)), summarize(rng.normal(10, 2, 500))
>>> result = welch(t, c)
>>> result.p_value < 0.001, round(result.difference, 2)
(True, 0.58)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Summary",
    "summarize",
    "TestResult",
    "welch",
    "relative_lift",
    "RatioSummary",
    "summarize_ratio",
    "ratio_test",
    "mann_whitney",
]


@dataclass(frozen=True)
class Summary:
    """n, mean and sample variance (ddof=1) of one arm."""

    n: int
    mean: float
    variance: float

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Student-t interval of the mean."""
        from scipy.special import stdtrit

        if self.n < 2:
            return (float("nan"), float("nan"))
        half = float(stdtrit(self.n - 1, 1 - alpha / 2)) * math.sqrt(self.variance / self.n)
        return (self.mean - half, self.mean + half)


def summarize(values: np.ndarray) -> Summary:
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    mean = float(x.mean()) if n else float("nan")
    var = float(x.var(ddof=1)) if n > 1 else float("nan")
    return Summary(n, mean, var)


@dataclass(frozen=True)
class TestResult:
    """A two-arm comparison: treatment minus control."""

    test: str
    statistic: float
    p_value: float
    difference: float
    ci: tuple[float, float]  # of the difference
    df: float | None = None


def welch(t: Summary, c: Summary, alpha: float = 0.05) -> TestResult:
    """Welch's unequal-variance t-test and its interval for mean_t - mean_c."""
    from scipy.special import stdtr, stdtrit

    vt, vc = t.variance / t.n, c.variance / c.n
    se = math.sqrt(vt + vc)
    diff = t.mean - c.mean
    if not se > 0:
        nan = float("nan")
        return TestResult("welch", nan, nan, diff, (nan, nan), nan)
    df = (vt + vc) ** 2 / (vt**2 / (t.n - 1) + vc**2 / (c.n - 1))
    statistic = diff / se
    p = float(2 * stdtr(df, -abs(statistic)))
    half = float(stdtrit(df, 1 - alpha / 2)) * se
    return TestResult("welch", statistic, p, diff, (diff - half, diff + half), df)


def relative_lift(mean_t: float, var_mean_t: float, mean_c: float, var_mean_c: float,
                  alpha: float = 0.05) -> tuple[float, tuple[float, float]]:
    """mean_t / mean_c - 1 and its delta-method interval.

    `var_mean_*` are the variances of the arms' mean estimates (variance / n).
    Var(m_t / m_c) ~= var_t / m_c^2 + m_t^2 var_c / m_c^4 for independent arms.

    >>> lift, (lo, hi) = relative_lift(11.0, 0.04, 10.0, 0.04)
    >>> round(lift, 3), round(lo, 3), round(hi, 3)
    (0.1, 0.042, 0.158)
    """
    from scipy.special import ndtri

    if mean_c == 0:
        return float("nan"), (float("nan"), float("nan"))
    lift = mean_t / mean_c - 1.0
    var = var_mean_t / mean_c**2 + mean_t**2 * var_mean_c / mean_c**4
    half = float(ndtri(1 - alpha / 2)) * math.sqrt(var)
    return lift, (lift - half, lift + half)


@dataclass(frozen=True)
class RatioSummary:
    """sum(numerator) / sum(denominator) over n units, with its delta-method variance."""

    n: int
    ratio: float
    variance: float  # of the ratio estimate itself (already divided by n)


def summarize_ratio(numerator: np.ndarray, denominator: np.ndarray) -> RatioSummary:
    """Delta method for a ratio of means (Deng et al. 2018, section 3):

    Var(X̄/Ȳ) ~= (s_x² / ȳ² - 2 x̄ s_xy / ȳ³ + x̄² s_y² / ȳ⁴) / n.

    >>> s = summarize_ratio(np.array([2.0, 4.0, 3.0]), np.array([1.0, 2.0, 2.0]))
    >>> round(s.ratio, 4)
    1.8
    """
    x = np.asarray(numerator, dtype=float)
    y = np.asarray(denominator, dtype=float)
    n = int(x.size)
    if n < 2:
        return RatioSummary(n, float("nan"), float("nan"))
    mx, my = float(x.mean()), float(y.mean())
    cov = np.cov(x, y, ddof=1)
    sxx, syy, sxy = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    if my == 0:
        return RatioSummary(n, float("nan"), float("nan"))
    var = (sxx / my**2 - 2 * mx * sxy / my**3 + mx**2 * syy / my**4) / n
    return RatioSummary(n, mx / my, var)


def ratio_test(t: RatioSummary, c: RatioSummary, alpha: float = 0.05) -> TestResult:
    """z-test of ratio_t - ratio_c with delta-method variances."""
    from scipy.special import ndtr, ndtri

    diff = t.ratio - c.ratio
    se = math.sqrt(t.variance + c.variance)
    if not se > 0:
        return TestResult("delta", float("nan"), float("nan"), diff, (float("nan"),) * 2)
    z = diff / se
    half = float(ndtri(1 - alpha / 2)) * se
    return TestResult("delta", z, float(2 * ndtr(-abs(z))), diff, (diff - half, diff + half))


def mann_whitney(treatment: np.ndarray, control: np.ndarray) -> tuple[float, float]:
    """SciPy's ``mannwhitneyu`` (two-sided, default method): (U of the treatment, p-value)."""
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(np.asarray(treatment, dtype=float), np.asarray(control, dtype=float),
                       alternative="two-sided")
    return float(res.statistic), float(res.pvalue)
