"""Curve maths on hand-computed cases, and agreement with scikit-learn / lathe metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from lathe.errors import DataError, UsageError
from lathe.evaluation import curves
from lathe.evaluation.metrics import calibration_table

Y = np.array([0, 0, 1, 1])
SCORE = np.array([0.1, 0.4, 0.35, 0.8])


def test_roc_points_hand_computed() -> None:
    roc = curves.roc_curve_points(Y, SCORE)
    assert roc.fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert roc.tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert roc.thresholds.tolist() == [np.inf, 0.8, 0.4, 0.35, 0.1]
    assert roc.auc == 0.75


def test_roc_tied_scores_move_together() -> None:
    roc = curves.roc_curve_points(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9]))
    # 0.9 (pos) first, then the tie at 0.5 (one pos, one neg) as a single step
    assert roc.tpr.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert roc.fpr.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert roc.auc == pytest.approx(0.875)


def test_roc_auc_matches_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.random(500) * 0.6 + 0.3 * y, 2)  # rounding creates ties
    assert curves.roc_curve_points(y, score).auc == pytest.approx(skm.roc_auc_score(y, score))


def test_pr_points_hand_computed() -> None:
    pr = curves.pr_curve_points(Y, SCORE)
    assert pr.recall.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert pr.precision.tolist() == pytest.approx([1.0, 1.0, 0.5, 2 / 3, 0.5])
    # (0.5 - 0) * 1 + (1 - 0.5) * 2/3
    assert pr.average_precision == pytest.approx(5 / 6)
    assert pr.prevalence == 0.5


def test_average_precision_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    score = np.round(rng.random(400) + 0.4 * y, 2)
    pr = curves.pr_curve_points(y, score)
    assert pr.average_precision == pytest.approx(skm.average_precision_score(y, score))
    assert np.all(np.diff(pr.recall) >= 0)


@pytest.mark.parametrize("function", [curves.roc_curve_points, curves.pr_curve_points])
def test_curves_need_both_outcomes(function) -> None:
    with pytest.raises(DataError, match="all 3 are negative"):
        function(np.zeros(3), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(UsageError, match="3 labels but 2 scores"):
        function(np.array([0, 1, 1]), np.array([0.1, 0.2]))


def test_reliability_hand_computed() -> None:
    rel = curves.reliability_points(np.array([0.1, 0.2, 0.85, 0.95]), np.array([0, 1, 1, 1]),
                                    bins=2)
    assert rel.confidence.tolist() == pytest.approx([0.15, 0.9])
    assert rel.observed.tolist() == [0.5, 1.0]
    assert rel.counts.tolist() == [2, 2]
    assert rel.ece == pytest.approx(0.5 * 0.35 + 0.5 * 0.1)


def test_reliability_edges_and_empty_bins() -> None:
    # 0.5 sits on the inner edge and belongs to the upper bin; 1.0 to the last bin
    rel = curves.reliability_points(np.array([0.5, 1.0, 0.0]), np.array([1, 1, 0]), bins=4)
    assert rel.counts.tolist() == [1, 1, 1]  # the empty bin [0.25, 0.5) is left out
    assert rel.confidence.tolist() == [0.0, 0.5, 1.0]
    assert rel.bin_edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert rel.ece == pytest.approx((0.0 + 0.5 + 0.0) / 3)  # only the 0.5 bin is off


def test_reliability_ece_matches_metrics_calibration_table() -> None:
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.ones(4), size=300)
    y = rng.integers(0, 4, 300)
    rel = curves.reliability_points(proba.max(axis=1), proba.argmax(axis=1) == y)
    table = calibration_table(y, proba)
    assert rel.ece == pytest.approx(table["ece"])
    assert rel.counts.tolist() == [row["count"] for row in table["bins"]]


def test_reliability_rejects_bad_input() -> None:
    with pytest.raises(UsageError, match="2 probabilities but 1 outcomes"):
        curves.reliability_points(np.array([0.1, 0.2]), np.array([1]))
    with pytest.raises(UsageError, match="at least 1"):
        curves.reliability_points(np.array([0.1]), np.array([1]), bins=0)


def test_normalise_rows_keeps_empty_rows_zero() -> None:
    out = curves.normalise_rows(np.array([[3, 1], [0, 0], [2, 2]]))
    assert out.tolist() == [[0.75, 0.25], [0.0, 0.0], [0.5, 0.5]]


def test_residuals_are_actual_minus_predicted() -> None:
    assert curves.residuals(np.array([3.0, 1.0]), np.array([2.5, 2.0])).tolist() == [0.5, -1.0]
    with pytest.raises(UsageError, match="2 actual values but 1 predictions"):
        curves.residuals(np.array([1.0, 2.0]), np.array([1.0]))


def test_top_classes_by_frequency_ties_by_index() -> None:
    y = np.array([3, 1, 1, 3, 0, 2, 2])
    assert curves.top_classes(y, limit=3) == [1, 2, 3]
    assert curves.top_classes(y, limit=10) == [1, 2, 3, 0]  # only present classes
    assert curves.top_classes(np.array([5, 5]), limit=2) == [5]


def test_confusion_counts_match_sklearn() -> None:
    rng = np.random.default_rng(6)
    y, pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    expected = skm.confusion_matrix(y, pred, labels=range(5))
    assert curves.confusion_counts(y, pred, 5).tolist() == expected.tolist()
    with pytest.raises(DataError, match="row 2 holds a class index outside 0..1"):
        curves.confusion_counts(np.array([0, 2]), np.array([0, 1]), 2)
