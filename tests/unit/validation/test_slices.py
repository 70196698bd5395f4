"""Slices: intervals against statsmodels, worst slices found (and not invented), bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.errors import DataError
from lathe.validation._scored import Scored
from lathe.validation.slices import bin_column, slice_keys, wilson_interval, worst_slices


def _scored(frame: pd.DataFrame, correct: np.ndarray) -> Scored:
    y = np.zeros(len(frame), dtype=int)
    pred = np.where(correct, 0, 1)
    raw = np.column_stack([1.0 - pred, pred]).astype(float)
    return Scored(frame=frame, X=frame, y=y, raw=raw, task="binary", classes=["a", "b"],
                  positive=1, pred=pred, source="rows.csv")


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (45, 50), (3, 400), (250, 500)])
def test_wilson_interval_equals_statsmodels(k: int, n: int) -> None:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    ours = wilson_interval(k, n)
    assert ours == pytest.approx((lo, hi), abs=1e-12)
    assert ours[0] <= k / n <= ours[1]


def test_a_bad_slice_is_found_and_the_crossed_slice_named() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"plan": rng.choice(["free", "pro", "team"], n),
                          "region": rng.choice(["eu", "us"], n)})
    bad = (frame.plan == "team") & (frame.region == "us")
    correct = rng.random(n) > np.where(bad, 0.35, 0.10)
    scored = _scored(frame, correct)
    keyed = {c: slice_keys(scored, c, []) for c in ("plan", "region")}
    found = worst_slices(scored, keyed)
    assert found["correction"] == "benjamini-hochberg"
    assert found["slices"][0]["slice"] == {"plan": "team", "region": "us"}
    assert found["slices"][0]["error_above_rest"] > 0.2
    assert all(s["p_adjusted"] < 0.05 for s in found["slices"])


def test_no_slice_is_reported_when_errors_are_uniform() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame({f"c{i}": rng.choice(list("abcdef"), n) for i in range(5)})
    scored = _scored(frame, rng.random(n) > 0.2)
    keyed = {c: slice_keys(scored, c, []) for c in frame.columns}
    found = worst_slices(scored, keyed)
    assert found["tested"] > 300  # 30 single slices and 10 x 36 crossed ones
    assert found["slices"] == []  # without the correction ~5 % of them would look "worse"


def test_numbers_are_binned_and_missing_values_get_their_own_slice() -> None:
    keys = bin_column(pd.Series([*np.arange(100.0), np.nan]))
    assert keys.iloc[-1] == "(missing)"
    assert keys.nunique() == 5


def test_bad_slice_columns_are_one_clear_error() -> None:
    frame = pd.DataFrame({"plan": ["a"] * 10, "region": ["eu", "us"] * 5})
    scored = _scored(frame, np.ones(10, dtype=bool))
    with pytest.raises(DataError, match="has no column 'regoin'.*did you mean 'region'"):
        slice_keys(scored, "regoin", [])
    with pytest.raises(DataError, match="'plan' has one value only"):
        slice_keys(scored, "plan", [])
