"""Value counts as features: what is counted, what unseen and missing values get, that the
tables survive save/load, and that a GBM uses what only the counts reveal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import lathe.api
from lathe.data.infer import encode_labels, infer_schema
from lathe.errors import ConfigError
from lathe.explain import explain_rows
from lathe.models import FitData, get_family
from lathe.models._value_counts import ValueCounts


def _conformed(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, object]:
    schema = infer_schema(frame, target)
    return schema.conform(frame)[0], schema


def test_counts_numbers_and_categories_from_the_training_rows() -> None:
    frame = pd.DataFrame({
        "hours": [40, 40, 40, 38, 45, np.nan] * 10,
        "job": ["clerk", "clerk", "chef", "pilot", "clerk", None] * 10,
        "flag": [0, 1] * 30,
        "y": ["a", "b", "a"] * 20,
    })
    X, schema = _conformed(frame, "y")
    counts = ValueCounts.fit(X, schema)
    assert set(counts.tables) == {"hours", "job"}  # a two-valued column adds nothing
    new = schema.conform(pd.DataFrame({"hours": [40, 41, None], "job": ["clerk", "pilot", None],
                                       "flag": [0, 1, 0]}))[0]
    out = counts.transform(new)
    assert list(out.columns) == ["hours", "job", "flag", "hours__count", "job__count"]
    assert out["hours__count"].tolist()[:2] == [30.0, 0.0]  # 41 never occurred: 0
    assert np.isnan(out["hours__count"].iloc[2])  # missing stays missing
    assert out["job__count"].tolist()[:2] == [30.0, 10.0] and np.isnan(out["job__count"].iloc[2])
    pd.testing.assert_frame_equal(out[["hours", "job", "flag"]], new)  # inputs untouched


def test_tables_round_trip_through_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"w": rng.choice([0.1, 1 / 3, 2.5e6, 7.0], 200),
                          "c": rng.choice(["x", "y", "z", "日本"], 200), "y": rng.integers(0, 2, 200)})
    X, schema = _conformed(frame, "y")
    counts = ValueCounts.fit(X, schema)
    counts.save(tmp_path)
    again = ValueCounts.load(tmp_path)
    assert again is not None and again.tables == counts.tables
    pd.testing.assert_frame_equal(again.transform(X), counts.transform(X))
    assert ValueCounts.load(tmp_path / "elsewhere") is None


def test_a_gbm_with_counts_learns_what_only_the_counts_show() -> None:
    """The label depends on whether a value is common, and common values sit between rare
    ones: ranges of the raw value cannot separate them, its count can."""
    rng = np.random.default_rng(1)
    common = np.arange(0, 400, 4, dtype=float)  # 100 values, ~60 rows each
    rare = rng.uniform(0, 400, 3000).round(3)  # almost all distinct
    value = np.concatenate([rng.choice(common, 6000), rare])
    label = np.concatenate([rng.random(6000) < 0.8, rng.random(3000) < 0.2]).astype(int)
    frame = pd.DataFrame({"v": value, "noise": rng.normal(size=len(value)), "y": label})
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    fit, test = frame.iloc[:6000], frame.iloc[6000:]
    schema = infer_schema(fit, "y")
    X, y = schema.conform(fit)[0], encode_labels(fit["y"], schema)
    Xt, yt = schema.conform(test)[0], encode_labels(test["y"], schema)
    aucs = {}
    for counted in (False, True):
        model = get_family("gbm")(n_estimators=200, value_counts=counted)
        model.fit(FitData(schema, X.iloc[:5000], y[:5000], X.iloc[5000:], y[5000:], threads=1))
        aucs[counted] = roc_auc_score(yt, model.predict_raw(Xt)[:, 1])
    assert aucs[True] > 0.75 and aucs[True] > aucs[False] + 0.1, aucs


def test_values_held_once_count_zero_and_distinct_columns_store_nothing() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"k": [1.0, 1.0, 2.0, 2.0, 2.0, 3.0] * 20 + [9.0],
                          "measured": rng.normal(size=121), "y": rng.integers(0, 2, 121)})
    X, schema = _conformed(frame, "y")
    counts = ValueCounts.fit(X, schema)
    assert "measured" not in counts.tables  # every value distinct: no table, no feature
    assert 9.0 not in counts.tables["k"][0]
    out = counts.transform(X)
    assert "measured__count" not in out
    assert out["k__count"].iloc[-1] == 0.0  # the row holding 9 alone: as if unseen
    assert out["k__count"].iloc[0] == 40.0


def test_a_column_already_named_like_a_count_is_left_alone() -> None:
    """`x` and `x__count` both in the data: `x` is not counted, so no name is taken twice."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, 600).astype(float)
    frame = pd.DataFrame({"x": x, "x__count": rng.integers(0, 5, 600).astype(float),
                          "z": rng.integers(0, 7, 600).astype(float), "y": (x > 9).astype(int)})
    X, schema = _conformed(frame, "y")
    assert set(ValueCounts.fit(X, schema).tables) == {"x__count", "z"}
    y = encode_labels(frame["y"], schema)
    model = get_family("gbm")(n_estimators=30, value_counts=True)
    model.fit(FitData(schema, X, y, threads=1))
    names = model.booster.feature_name()
    assert len(names) == len(set(names)) and "x__count__count" in names
    assert set(model.feature_importance()) <= set(schema.feature_names)


def test_category_lookups_follow_the_category_list_they_are_given() -> None:
    X, schema = _conformed(pd.DataFrame({"c": list("aabbbc") * 10, "y": [0, 1] * 30}), "y")
    counts = ValueCounts.fit(X, schema)
    assert counts.transform(X)["c__count"].tolist()[:6] == [20.0, 20.0, 30.0, 30.0, 30.0, 10.0]
    reordered = pd.DataFrame({"c": pd.Categorical(["c", "a", "zz"], categories=["zz", "c", "b", "a"])})
    assert counts.transform(reordered)["c__count"].tolist() == [10.0, 20.0, 0.0]


def test_text_and_counts_in_one_gbm_save_and_load(tmp_path: Path, adult_small: pd.DataFrame) -> None:
    frame = adult_small.head(1500).copy()
    frame["note"] = ("works as " + frame["occupation"].fillna("unknown").astype(str) + " in "
                     + frame["workclass"].fillna("unknown").astype(str))
    schema = infer_schema(frame, "income", text_columns=["note"])
    X, y = schema.conform(frame)[0], encode_labels(frame["income"], schema)
    model = get_family("gbm")(n_estimators=60, value_counts=True)
    model.fit(FitData(schema, X.iloc[:1200], y[:1200], X.iloc[1200:], y[1200:], threads=1))
    names = model.booster.feature_name()
    assert "age__count" in names and any(n.startswith("note__svd") for n in names)
    assert set(model.feature_importance()) <= set(schema.feature_names)
    model.save(tmp_path / "m")
    again = get_family("gbm").load(tmp_path / "m", schema)
    np.testing.assert_allclose(again.predict_raw(X.iloc[1200:]), model.predict_raw(X.iloc[1200:]))


def test_column_names_lightgbm_would_refuse_or_rewrite_train_and_explain(tmp_path: Path) -> None:
    """`price, usd` has JSON characters LightGBM refuses; `a b` it would rewrite into `a_b`,
    a name the data already has (and with counts, `a b__count` into `a_b__count`)."""
    rng = np.random.default_rng(4)
    n = 800
    frame = pd.DataFrame({"price, usd": rng.integers(0, 30, n).astype(float),
                          "a b": rng.integers(0, 9, n).astype(float),
                          "a_b__count": rng.integers(0, 4, n).astype(float),
                          "kind": rng.choice(["x y", "z"], n)})
    frame["label"] = np.where(frame["price, usd"] + 3 * (frame["a b"] > 4) > 17, "hi", "lo")
    for counted in (False, True):
        model = lathe.api.train(frame, "label", threads=1,
                                params={"n_estimators": 40, "value_counts": counted})
        booster_names = model.family.booster.feature_name()
        assert len(set(booster_names)) == len(booster_names)
        assert set(model.family.feature_importance()) <= set(model.schema.feature_names)
        contrib = explain_rows(model, frame.head(5))
        assert list(contrib.columns) == model.schema.feature_names
        p = model.predict_proba(frame.head(5)).iloc[:, 1].to_numpy()
        log_odds = contrib.sum(axis=1).to_numpy() + np.array(contrib.attrs["base_value"])
        assert np.allclose(1 / (1 + np.exp(-log_odds)), p)
        model.save(tmp_path / str(counted))
        again = lathe.api.load(tmp_path / str(counted))
        np.testing.assert_allclose(again.predict_proba(frame).to_numpy(),
                                   model.predict_proba(frame).to_numpy())


def test_a_number_named_like_a_text_part_still_trains() -> None:
    """`t__svd0` (a number) beside the SVD parts of text `t`: two features of one name,
    which LightGBM refuses; the booster gets unique names and the model predicts."""
    rng = np.random.default_rng(5)
    words = rng.choice(["good fast service", "slow rude staff", "fine okay"], 400)
    frame = pd.DataFrame({"t": words, "t__svd0": rng.normal(size=400)})
    frame["y"] = np.where(pd.Series(words).str.contains("good"), "pos", "neg")
    model = lathe.api.train(frame, "y", model="gbm", threads=1, text_columns=["t"],
                            params={"n_estimators": 20})
    names = model.family.booster.feature_name()
    assert len(names) == len(set(names)) and "t__svd0" in names
    assert model.predict_proba(frame.head(3)).shape == (3, 2)


def test_value_counts_that_is_not_true_or_false_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="value_counts must be true or false, got 'yes please'"):
        get_family("gbm")(value_counts="yes please")
