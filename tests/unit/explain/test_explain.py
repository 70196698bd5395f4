"""Explanations of real models trained on a sample of Adult: TreeSHAP for gbm, sampled
Shapley values for other families, global importance and the HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe.api
from lathe.errors import UsageError
from lathe.explain import explain_rows, global_importance, write_explain_report


@pytest.fixture(scope="module")
def sample(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(1500).reset_index(drop=True)


@pytest.fixture(scope="module")
def gbm(sample: pd.DataFrame) -> lathe.api.Model:
    return lathe.api.train(sample, "income", threads=1, params={"n_estimators": 80})


@pytest.fixture(scope="module")
def linear(sample: pd.DataFrame) -> lathe.api.Model:
    return lathe.api.train(sample, "income", model="linear", threads=1)


def test_gbm_tree_shap_adds_up_to_the_log_odds(gbm: lathe.api.Model, sample: pd.DataFrame) -> None:
    rows = sample.iloc[100:110]
    contrib = explain_rows(gbm, rows)
    assert contrib.attrs["method"] == "tree_shap" and contrib.attrs["units"] == "log-odds"
    assert list(contrib.index) == list(rows.index)
    assert list(contrib.columns) == gbm.schema.feature_names
    p = gbm.predict_proba(rows).iloc[:, 1].to_numpy()
    log_odds = contrib.sum(axis=1).to_numpy() + np.array(contrib.attrs["base_value"])
    assert np.allclose(1 / (1 + np.exp(-log_odds)), p)
    assert contrib.attrs["explained_class"] == [">50K"] * 10


def test_value_count_features_fold_into_their_column(sample: pd.DataFrame) -> None:
    """A booster that also saw `age__count` explains in input columns, and still adds up."""
    model = lathe.api.train(sample, "income", threads=1,
                            params={"n_estimators": 80, "value_counts": True})
    assert "age__count" in model.family.booster.feature_name()
    rows = sample.iloc[100:110]
    contrib = explain_rows(model, rows)
    assert list(contrib.columns) == model.schema.feature_names
    p = model.predict_proba(rows).iloc[:, 1].to_numpy()
    log_odds = contrib.sum(axis=1).to_numpy() + np.array(contrib.attrs["base_value"])
    assert np.allclose(1 / (1 + np.exp(-log_odds)), p)


@pytest.mark.parametrize("counted", [True, False])
def test_column_names_with_double_underscores_explain_as_themselves(
        sample: pd.DataFrame, counted: bool) -> None:
    """`hours__per_week` is counted into `hours__per_week__count`, which folds back into it;
    a real column named `visits__count` stays its own column, counted or not."""
    frame = sample.rename(columns={"hours_per_week": "hours__per_week"})
    frame["visits__count"] = np.arange(len(frame)) % 7
    model = lathe.api.train(frame, "income", threads=1,
                            params={"n_estimators": 80, "value_counts": counted})
    rows = frame.iloc[100:110]
    contrib = explain_rows(model, rows)
    assert list(contrib.columns) == model.schema.feature_names
    assert {"hours__per_week", "visits__count"} <= set(contrib.columns)
    p = model.predict_proba(rows).iloc[:, 1].to_numpy()
    log_odds = contrib.sum(axis=1).to_numpy() + np.array(contrib.attrs["base_value"])
    assert np.allclose(1 / (1 + np.exp(-log_odds)), p)


def test_other_families_get_sampled_shapley_in_probability_units(
        linear: lathe.api.Model, sample: pd.DataFrame) -> None:
    rows = sample.iloc[:12]
    contrib = explain_rows(linear, rows, n_permutations=16)
    assert contrib.attrs["method"] == "sampling_shapley"
    assert contrib.attrs["background"] == "12 of the explained rows"
    p = linear.predict_proba(rows).iloc[:, 1].to_numpy()
    assert np.allclose(contrib.sum(axis=1) + np.array(contrib.attrs["base_value"]), p)
    one = explain_rows(linear, rows.iloc[:1])
    assert one.attrs["background"] == "an all-missing row"
    with pytest.raises(UsageError, match="gbm"):
        explain_rows(linear, rows, method="tree")


def test_gbm_and_sampling_agree_on_what_matters(gbm: lathe.api.Model, sample: pd.DataFrame) -> None:
    rows = sample.iloc[:40]
    tree = explain_rows(gbm, rows).abs().mean()
    sampled = explain_rows(gbm, rows, method="sampling", n_permutations=8).abs().mean()
    # log-odds vs probability units: two near-tied leaders may swap (refitted model, 40 rows:
    # marital_status 0.746 / age 0.572 log-odds, age 0.067 / marital_status 0.061 probability)
    assert tree.idxmax() in sampled.nlargest(2).index
    assert sampled.idxmax() in tree.nlargest(2).index
    assert np.corrcoef(tree, sampled[tree.index])[0, 1] > 0.8


def test_global_importance_ranks_features(gbm: lathe.api.Model, sample: pd.DataFrame) -> None:
    table = global_importance(gbm, sample.iloc[:600], n_repeats=3)
    assert set(table.columns) == {"permutation_mean", "permutation_std", "mean_abs_contribution"}
    assert table.attrs["labelled"] is True
    assert table["permutation_mean"].iloc[0] == table["permutation_mean"].max() > 0.01
    unlabelled = global_importance(gbm, sample.iloc[:300].drop(columns=["income"]))
    assert unlabelled["permutation_mean"].isna().all()
    assert unlabelled["mean_abs_contribution"].iloc[0] == unlabelled["mean_abs_contribution"].max()


def test_report_is_self_contained_html_with_plots(linear: lathe.api.Model, sample: pd.DataFrame,
                                                 tmp_path: Path) -> None:
    path = write_explain_report(tmp_path / "explain.html", linear, sample.iloc[:150], rows=3)
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 2 + 3
    assert "Local explanations" in page and "Global importance" in page
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from elsewhere
    with pytest.raises(UsageError, match="directory"):
        write_explain_report(tmp_path, linear, sample.iloc[:20])
