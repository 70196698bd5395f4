"""evaluation/metrics.py against scikit-learn (the reference) and small worked examples:
multiclass, regression, calibration, the primary score and the catch-all figures. The binary
positive-class convention has its own tests in test_metrics.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from lathe.evaluation.metrics import (
    calibration_table,
    catch_all_metrics,
    classification_metrics,
    compute_metrics,
    higher_is_better,
    primary_metric,
    primary_score,
    regression_metrics,
)

RNG = np.random.default_rng(7)


def _proba(n: int, k: int) -> np.ndarray:
    raw = RNG.gamma(1.0, size=(n, k))
    return raw / raw.sum(axis=1, keepdims=True)


def test_multiclass_metrics_are_scikit_learns() -> None:
    y = RNG.integers(0, 4, size=300)
    proba = _proba(300, 4)
    proba[np.arange(300), y] += 0.4  # some signal
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    m = classification_metrics(y, proba, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=average,
                                                         zero_division=0)
        assert (m[f"precision_{average}"], m[f"recall_{average}"], m[f"f1_{average}"]) == \
            pytest.approx((p, r, f))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr",
                                                           average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    assert [row["f1"] for row in m["per_class"]] == pytest.approx(f)
    assert [row["support"] for row in m["per_class"]] == s.tolist()
    assert [row["class"] for row in m["per_class"]] == ["a", "b", "c", "d"]


def test_multiclass_auc_averages_the_classes_present() -> None:
    """A class absent from the labels has no AUC; the macro average is over the others."""
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    proba = _proba(8, 3)
    m = classification_metrics(y, proba, ["a", "b", "c"])
    expected = np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in (0, 1)])
    assert m["roc_auc"] == pytest.approx(expected)
    assert len(m["confusion_matrix"]) == 3  # every class keeps its row


def test_binary_scores_are_scikit_learns() -> None:
    y = RNG.integers(0, 2, size=200)
    proba = _proba(200, 2)
    proba[:, 1] = np.clip(proba[:, 1] + 0.3 * y, 0, 1)
    proba[:, 0] = 1 - proba[:, 1]
    m = classification_metrics(y, proba, ["no", "yes"])
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, proba[:, 1]))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, proba[:, 1]))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    p, r, f, _ = skm.precision_recall_fscore_support(y, proba.argmax(1), average="binary",
                                                     zero_division=0)
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((p, r, f))


def test_one_class_in_the_labels_has_no_auc_and_a_zero_probability_no_infinite_loss() -> None:
    m = classification_metrics(np.array([1, 1, 1]), np.array([[0.0, 1.0], [1.0, 0.0],
                                                              [0.2, 0.8]]), ["no", "yes"])
    assert m["roc_auc"] is None and m["accuracy"] == pytest.approx(2 / 3)
    assert np.isfinite(m["log_loss"]) and m["log_loss"] > 10  # clipped at 1e-15, not inf


def test_regression_metrics_are_scikit_learns() -> None:
    y = RNG.normal(size=100)
    pred = y + RNG.normal(scale=0.5, size=100)
    m = regression_metrics(y, pred)
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert m["median_absolute_error"] == pytest.approx(skm.median_absolute_error(y, pred))
    assert regression_metrics(np.array([1.0]), np.array([2.0]))["r2"] is None


def test_calibration_table_worked_example() -> None:
    """Top-class confidence 0.95, 0.95 (right, wrong) and 0.65 (right): two bins,
    ECE = 2/3 * |0.95 - 0.5| + 1/3 * |0.65 - 1| = 0.4167."""
    y = np.array([0, 1, 0])
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.65, 0.35]])
    table = calibration_table(y, proba)
    assert [b["count"] for b in table["bins"]] == [1, 2]
    assert [b["bin"] for b in table["bins"]] == [pytest.approx([0.6, 0.7]),
                                                 pytest.approx([0.9, 1.0])]
    assert table["ece"] == pytest.approx(2 / 3 * 0.45 + 1 / 3 * 0.35)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_primary_score_is_the_primary_metric(task: str) -> None:
    k = {"binary": 2, "multiclass": 5}.get(task)
    if k is None:
        y, raw = RNG.normal(size=80), RNG.normal(size=80)
    else:
        y, raw = RNG.integers(0, k, size=80), _proba(80, k)
    metric = primary_metric(task)
    expected = compute_metrics(task, y, raw, list(range(k)) if k else None)[metric]
    assert primary_score(task, y, raw) == pytest.approx(expected)
    sign = 1 if higher_is_better(metric) else -1
    assert primary_score(task, y, raw, oriented=True) == pytest.approx(sign * expected)


def test_the_primary_score_of_one_class_labels_is_accuracy() -> None:
    y, raw = np.array([1, 1, 1, 1]), np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    assert compute_metrics("binary", y, raw, ["a", "b"])["roc_auc"] is None
    assert primary_score("binary", y, raw) == pytest.approx(0.75)


def test_direction_of_each_metric() -> None:
    assert [higher_is_better(m) for m in ("roc_auc", "accuracy", "f1", "r2")] == [True] * 4
    assert [higher_is_better(m) for m in ("rmse", "mae", "log_loss", "brier")] == [False] * 4


def test_catch_all_metrics_when_nothing_is_routed() -> None:
    m = catch_all_metrics(np.array([0, 1, 2]), np.array([0, 1, 1]), 2, ["a", "b", "oos"])
    assert m == {"label": "oos", "in_scope_accuracy": 1.0, "recall": 0.0, "precision": None,
                 "in_scope_rows": 2, "catch_all_rows": 1}
    out = compute_metrics("multiclass", np.array([0, 1, 2]), np.eye(3)[[0, 1, 1]],
                          ["a", "b", "oos"], catch_all=2)
    assert out["catch_all"] == m
