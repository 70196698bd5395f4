"""The statistics equal SciPy/statsmodels (to 1e-9) and published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from lathe.experiments.stats import bootstrap, means, power, proportions, sequential, srm
from lathe.experiments.stats.cuped import cuped_adjust
from lathe.experiments.stats.multiple import holm

TOL = 1e-9


@pytest.mark.parametrize("counts", [(56, 70, 48, 80), (450, 1000, 400, 1000),
                                    (20_034, 44_700, 20_119, 45_489), (3, 17, 9, 12)])
def test_pooled_ztest_equals_statsmodels(counts):
    x_t, n_t, x_c, n_c = counts
    ours = proportions.ztest_pooled(x_t, n_t, x_c, n_c)
    z, p = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert ours.statistic == pytest.approx(z, abs=TOL)
    assert ours.p_value == pytest.approx(p, abs=TOL)


# Newcombe (1998), Statist. Med. 17:873-890, Table II, method 10 (score, no continuity corr.)
NEWCOMBE = [((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090)),
            ((5, 56, 0, 29), (-0.0381, 0.1926)), ((0, 10, 0, 20), (-0.1611, 0.2775)),
            ((0, 10, 0, 10), (-0.2775, 0.2775)), ((10, 10, 0, 20), (0.6791, 1.0000)),
            ((10, 10, 0, 10), (0.6075, 1.0000))]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE)
def test_newcombe_matches_published_examples(counts, published):
    lo, hi = proportions.newcombe_interval(*counts)
    assert (round(lo, 4), round(hi, 4)) == published


@pytest.mark.parametrize("counts", [c for c, _ in NEWCOMBE] + [(6, 7, 2, 7), (1234, 5000, 1180, 5100)])
def test_newcombe_equals_statsmodels(counts):
    x_t, n_t, x_c, n_c = counts
    ours = proportions.newcombe_interval(x_t, n_t, x_c, n_c)
    theirs = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff")
    assert ours == pytest.approx(theirs, abs=TOL)


@pytest.mark.parametrize(("x", "n"), [(81, 263), (15, 148), (0, 20), (20, 20), (1, 29)])
def test_wilson_equals_statsmodels(x, n):
    assert proportions.wilson_interval(x, n) == pytest.approx(
        proportion_confint(x, n, method="wilson"), abs=TOL)


def test_wilson_published_example():  # Newcombe (1998a), 81/263: 0.2553 to 0.3662
    lo, hi = proportions.wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


def test_prob_beat_control_against_numerical_integration():
    from scipy import integrate

    for x_t, n_t, x_c, n_c in [(12, 40, 8, 40), (300, 1000, 320, 1000), (0, 5, 1, 5)]:
        a_t, b_t, a_c, b_c = 1 + x_t, 1 + n_t - x_t, 1 + x_c, 1 + n_c - x_c
        def density(p, a_t=a_t, b_t=b_t, a_c=a_c, b_c=b_c):
            return stats.beta.pdf(p, a_t, b_t) * stats.beta.cdf(p, a_c, b_c)

        want, _ = integrate.quad(density, 0, 1, epsabs=1e-12, points=[x_t / n_t, x_c / n_c])
        assert proportions.prob_beat_control(x_t, n_t, x_c, n_c) == pytest.approx(want, abs=1e-7)


def test_prob_beat_control_is_symmetric():
    p = proportions.prob_beat_control(40, 100, 30, 90)
    q = proportions.prob_beat_control(30, 90, 40, 100)
    assert p + q == pytest.approx(1.0, abs=1e-9)


@pytest.fixture
def skewed():
    rng = np.random.default_rng(7)
    return rng.lognormal(1.0, 1.2, 700), rng.lognormal(1.1, 1.0, 900)


def test_welch_equals_scipy_ttest_ind(skewed):
    t, c = skewed
    ours = means.welch(means.summarize(t), means.summarize(c))
    ref = stats.ttest_ind(t, c, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert ours.df == pytest.approx(ref.df, abs=1e-6)
    ci = ref.confidence_interval(0.95)
    assert ours.ci == pytest.approx((ci.low, ci.high), abs=TOL)


def test_summary_interval_equals_scipy(skewed):
    t, _ = skewed
    s = means.summarize(t)
    ci = stats.ttest_1samp(t, 0).confidence_interval(0.95)
    assert s.interval() == pytest.approx((ci.low, ci.high), abs=TOL)


def test_mann_whitney_equals_scipy(skewed):
    t, c = skewed
    u, p = means.mann_whitney(t, c)
    ref = stats.mannwhitneyu(t, c)
    assert (u, p) == pytest.approx((ref.statistic, ref.pvalue), abs=TOL)
    small_t, small_c = t[:8], c[:9]  # the exact method at small sizes, as SciPy picks it
    ref = stats.mannwhitneyu(small_t, small_c)
    assert means.mann_whitney(small_t, small_c) == pytest.approx((ref.statistic, ref.pvalue), abs=TOL)


def test_delta_method_lift_covers_like_simulation():
    rng = np.random.default_rng(3)
    lifts = []
    for _ in range(2000):
        t, c = rng.exponential(1.1, 400), rng.exponential(1.0, 400)
        lifts.append(t.mean() / c.mean() - 1)
    t, c = rng.exponential(1.1, 400), rng.exponential(1.0, 400)
    _, (lo, hi) = means.relative_lift(1.1, 1.1**2 / 400, 1.0, 1.0 / 400)
    # the delta-method standard error matches the simulated spread within 5 %
    assert (hi - lo) / (2 * 1.959964) == pytest.approx(np.std(lifts), rel=0.05)


def test_ratio_delta_variance_matches_simulation():
    rng = np.random.default_rng(4)

    def draw():
        sessions = rng.poisson(3, 2000) + 1
        clicks = rng.binomial(sessions, 0.3)
        return clicks, sessions

    ratios = [c.sum() / s.sum() for c, s in (draw() for _ in range(1500))]
    r = means.summarize_ratio(*draw())
    assert math.sqrt(r.variance) == pytest.approx(np.std(ratios), rel=0.08)
    assert r.ratio == pytest.approx(0.3, abs=0.01)


def test_bootstrap_routes_agree_with_scipy_bootstrap():
    rng = np.random.default_rng(5)
    t, c = rng.poisson(3, 1500).astype(float), rng.poisson(3.3, 1500).astype(float)
    (lo, hi), method = bootstrap.bootstrap_diff_interval(t, c, resamples=4000)
    assert method == "bootstrap"
    ref = stats.bootstrap((t, c), lambda a, b, axis: a.mean(axis) - b.mean(axis),
                          method="percentile", n_resamples=4000, rng=1).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.02) and hi == pytest.approx(ref.high, abs=0.02)
    # the row route (many distinct values) and the multinomial route agree in law
    rows = bootstrap.bootstrap_means(rng.normal(size=300), 3000, rng)
    assert rows.std() == pytest.approx(1 / math.sqrt(300), rel=0.1)


def test_srm_equals_scipy_chisquare():
    res = srm.srm_test([44_700, 45_489], [50, 50])
    ref = stats.chisquare([44_700, 45_489])
    assert (res.statistic, res.p_value) == pytest.approx((ref.statistic, ref.pvalue), abs=TOL)
    assert not res.mismatch
    skew = srm.srm_test([5_000, 5_400, 5_000], [1, 1, 1])
    ref = stats.chisquare([5_000, 5_400, 5_000], f_exp=[15_400 / 3] * 3)
    assert skew.p_value == pytest.approx(ref.pvalue, abs=TOL) and skew.mismatch
    planned = srm.srm_test([1_000, 9_050], [10, 90])
    assert planned.p_value == pytest.approx(
        stats.chisquare([1_000, 9_050], f_exp=[1_005, 9_045]).pvalue, abs=TOL)


def test_holm_equals_statsmodels():
    p = [0.01, 0.04, 0.03, 0.2, 0.0001, 0.049]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), abs=TOL)


def test_power_equals_statsmodels():
    es = proportion_effectsize(0.13, 0.12)
    want = math.ceil(NormalIndPower().solve_power(effect_size=abs(es), alpha=0.05, power=0.8))
    assert power.sample_size_per_arm("proportion", baseline=0.12, mde=0.01) == want
    want = math.ceil(zt_ind_solve_power(effect_size=0.5 / 2.0, alpha=0.05, power=0.9))
    assert power.sample_size_per_arm("mean", baseline=10, mde=0.5, sd=2.0, power=0.9) == want
    mde = power.minimum_detectable_effect("proportion", n_per_arm=17_164, baseline=0.12)
    assert mde == pytest.approx(0.01, abs=1e-4)
    assert power.power_at("proportion", baseline=0.12, mde=mde, n_per_arm=17_164) == \
        pytest.approx(0.8, abs=1e-5)


def test_cuped_reduces_variance_by_rho_squared():
    rng = np.random.default_rng(11)
    x = rng.normal(size=50_000)
    y = 3 + 0.7 * x + math.sqrt(1 - 0.49) * rng.normal(size=50_000)
    adjusted, theta = cuped_adjust(y, x)
    assert adjusted.mean() == pytest.approx(y.mean(), abs=1e-12)
    assert theta == pytest.approx(0.7, abs=0.02)
    assert adjusted.var() / y.var() == pytest.approx(1 - 0.49, abs=0.02)


def test_sequential_p_and_sequence_agree_and_match_growthbook_halfwidth():
    var_diff, s2, n = 0.0004, 0.0004 * 20_000, 20_000
    half = sequential.halfwidth(var_diff=var_diff, s2=s2)
    # GrowthBook's sequential_interval_halfwidth, written as in gbstats
    rho = math.sqrt((-2 * math.log(0.05) + math.log(-2 * math.log(0.05) + 1)) / 5000)
    gb = math.sqrt(s2) * math.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2)
                                   * math.log(math.sqrt(n * rho**2 + 1) / 0.05))
    assert half == pytest.approx(gb, rel=1e-12)
    assert sequential.always_valid_p(diff=half, var_diff=var_diff, s2=s2) == pytest.approx(0.05)
    assert sequential.always_valid_p(diff=half * 1.01, var_diff=var_diff, s2=s2) < 0.05
    assert half > 1.96 * math.sqrt(var_diff)  # wider than the fixed-horizon interval
    assert sequential.running_p([0.5, 0.2, 0.4, float("nan")]) == [0.5, 0.2, 0.2, 0.2]


def test_sequential_false_positive_rate_with_peeking():
    rng = np.random.default_rng(0)
    hits_seq = hits_naive = 0
    runs, looks, per_look = 300, 10, 200
    for _ in range(runs):
        t = rng.normal(size=looks * per_look)
        c = rng.normal(size=looks * per_look)
        best, naive = 1.0, False
        for k in range(1, looks + 1):
            a, b = t[: k * per_look], c[: k * per_look]
            diff, var = a.mean() - b.mean(), a.var(ddof=1) / a.size + b.var(ddof=1) / b.size
            best = min(best, sequential.always_valid_p(diff=diff, var_diff=var,
                                                       s2=var * (a.size + b.size)))
            naive |= stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05
        hits_seq += best < 0.05
        hits_naive += naive
    assert hits_seq / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)
    assert hits_naive > hits_seq  # peeking at a fixed-horizon test inflates errors
