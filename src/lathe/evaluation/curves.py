"""Pure curve maths for the evaluation report: arrays in, points out, no plotting.

ROC and precision-recall points are computed at every distinct score (no points dropped),
so the areas match scikit-learn's `roc_auc_score` and `average_precision_score`.

>>> import numpy as np
>>> y, score = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> roc = roc_curve_points(y, score)
>>> roc.fpr.tolist(), roc.tpr.tolist(), roc.auc
([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], 0.75)
>>> round(pr_curve_points(y, score).average_precision, 4)
0.8333
>>> normalise_rows(np.array([[2, 0], [1, 1], [0, 0]])).tolist()
[[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]]
>>> top_classes(np.array([2, 2, 0, 2, 0, 1]), limit=2)
[2, 0]
>>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
[[1, 0], [1, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lathe.errors import DataError, UsageError

__all__ = [
    "RocCurve",
    "PrCurve",
    "Reliability",
    "roc_curve_points",
    "pr_curve_points",
    "reliability_points",
    "normalise_rows",
    "residuals",
    "top_classes",
    "confusion_counts",
]


@dataclass(frozen=True)
class RocCurve:
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # first threshold is +inf: the (0, 0) corner
    auc: float


@dataclass(frozen=True)
class PrCurve:
    recall: np.ndarray  # non-decreasing, starts at 0
    precision: np.ndarray  # starts at 1 (the convention for "predict nothing positive")
    thresholds: np.ndarray
    average_precision: float
    prevalence: float  # precision of a model that guesses: the no-skill baseline


@dataclass(frozen=True)
class Reliability:
    """Per non-empty bin: mean predicted probability, observed frequency, row count."""

    confidence: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    bin_edges: np.ndarray
    ece: float  # expected calibration error: count-weighted |confidence - observed|


def _binary_inputs(y_true: np.ndarray, score: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if y.shape != s.shape:
        raise UsageError(f"{what}: {y.size} labels but {s.size} scores",
                         hint="pass one score per labelled row")
    if not y.any() or y.all():
        found = "positive" if y.all() else "negative"
        raise DataError(f"{what} needs both positive and negative rows; all {y.size} are {found}",
                        hint="evaluate on data that holds both outcomes")
    return y, s


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives when predicting positive at each distinct score, high to low."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    # the last row of each run of tied scores: ties move together across a threshold
    last_of_run = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_run].astype(float)
    fps = (last_of_run + 1) - tps
    return tps, fps, s[last_of_run]


def roc_curve_points(y_true: np.ndarray, score: np.ndarray) -> RocCurve:
    """ROC points of a binary problem (`y_true` truthy = positive); area by the trapezoid rule."""
    y, s = _binary_inputs(y_true, score, "ROC curve")
    tps, fps, thresholds = _cumulative_counts(y, s)
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return RocCurve(fpr, tpr, np.r_[np.inf, thresholds], float(np.trapezoid(tpr, fpr)))


def pr_curve_points(y_true: np.ndarray, score: np.ndarray) -> PrCurve:
    """Precision-recall points; average precision is the step-wise sum sum_n (R_n - R_n-1) P_n."""
    y, s = _binary_inputs(y_true, score, "precision-recall curve")
    tps, fps, thresholds = _cumulative_counts(y, s)
    recall = np.r_[0.0, tps / tps[-1]]
    precision = np.r_[1.0, tps / (tps + fps)]
    average_precision = float(np.sum(np.diff(recall) * precision[1:]))
    return PrCurve(recall, precision, np.r_[np.inf, thresholds], average_precision,
                   float(y.mean()))


def reliability_points(confidence: np.ndarray, outcome: np.ndarray, bins: int = 10) -> Reliability:
    """Reliability diagram points over `bins` equal-width bins of [0, 1].

    Binning matches `lathe.evaluation.metrics.calibration_table` (a value on an inner edge
    belongs to the bin above it; 1.0 to the last bin), so the ECE here equals the one there
    when `confidence` is the top-class probability and `outcome` whether that class was right.
    """
    conf = np.asarray(confidence, dtype=float).ravel()
    hit = np.asarray(outcome, dtype=float).ravel()
    if conf.shape != hit.shape:
        raise UsageError(f"reliability: {conf.size} probabilities but {hit.size} outcomes",
                         hint="pass one outcome per probability")
    if bins < 1:
        raise UsageError(f"reliability: bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    mean_conf = np.bincount(which, weights=conf, minlength=bins)[filled] / counts[filled]
    observed = np.bincount(which, weights=hit, minlength=bins)[filled] / counts[filled]
    kept = counts[filled]
    ece = float(np.sum(kept * np.abs(mean_conf - observed)) / conf.size) if conf.size else 0.0
    return Reliability(mean_conf, observed, kept, edges, ece)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (a confusion matrix's recall view); empty rows stay zero."""
    m = np.asarray(matrix, dtype=float)
    totals = m.sum(axis=1, keepdims=True)
    return np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)


def residuals(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Actual minus predicted: positive means the model predicted too low."""
    actual = np.asarray(y_true, dtype=float).ravel()
    predicted = np.asarray(y_pred, dtype=float).ravel()
    if actual.shape != predicted.shape:
        raise UsageError(f"residuals: {actual.size} actual values but {predicted.size} predictions",
                         hint="pass one prediction per row")
    return actual - predicted


def top_classes(y_true: np.ndarray, limit: int) -> list[int]:
    """Indices of the `limit` most frequent classes present in `y_true` (ties: lower index first)."""
    counts = np.bincount(np.asarray(y_true, dtype=int).ravel())
    present = np.flatnonzero(counts)
    order = present[np.argsort(-counts[present], kind="mergesort")]
    return [int(c) for c in order[:limit]]


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """k x k counts: row = actual class, column = predicted class."""
    actual = np.asarray(y_true, dtype=int).ravel()
    predicted = np.asarray(y_pred, dtype=int).ravel()
    if actual.shape != predicted.shape:
        raise UsageError(f"confusion matrix: {actual.size} labels but {predicted.size} predictions",
                         hint="pass one prediction per row")
    outside = (actual < 0) | (actual >= n_classes) | (predicted < 0) | (predicted >= n_classes)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(f"confusion matrix: row {row + 1} holds a class index outside 0..{n_classes - 1}",
                        hint="encode labels with the model's classes", row=row + 1)
    flat = np.bincount(actual * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)
