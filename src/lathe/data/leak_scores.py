"""Leak scores: how well one column alone predicts the label (pure maths behind the
`leakage` check of `lathe check`).

A column leaks when, on its own, it scores at least `LEAK_SCORE` with a rule that cannot
memorise: leave-one-out majority label per value (categoricals, few-valued numerics),
leave-one-out nearest neighbour along the column (other numerics, multiclass), the best
single-threshold ROC-AUC (numerics, binary) or |Spearman rho| (regression).

>>> import numpy as np, pandas as pd
>>> label = pd.Series(["a", "b"] * 20)
>>> leak_score(pd.Series(np.where(label == "a", 1.0, 2.0)), label, "numeric", "binary", 2)
('majority-label accuracy', 1.0)
>>> leak_score(pd.Series(np.arange(40.0)), label, "numeric", "binary", 40) is None
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata  # loaded already: lathe.data.split needs scikit-learn

from lathe.data.schema import Task

__all__ = ["leak_score", "majority_accuracy", "neighbour_accuracy", "binary_auc", "spearman",
           "LEAK_SCORE", "LEAK_MIN_ROWS", "FEW_NUMERIC_VALUES"]

LEAK_SCORE = 0.99
LEAK_MIN_ROWS = 20            # a perfect single-feature fit on fewer rows is plausibly chance
FEW_NUMERIC_VALUES = 64       # numeric columns with at most this many values use the majority rule


def leak_score(values: pd.Series, label: pd.Series, kind: str, task: Task,
                n_unique: int) -> tuple[str, float] | None:
    """(metric, score) when one column alone predicts the label near-perfectly, else None."""
    if task == "regression":
        if kind != "numeric":
            return None
        rho = spearman(_as_float(values), pd.to_numeric(label, errors="coerce").to_numpy(float))
        return ("|Spearman|", rho) if rho >= LEAK_SCORE else None
    y = pd.factorize(label)[0]
    baseline = float(np.bincount(y).max() / len(y))
    if kind == "numeric" and n_unique > FEW_NUMERIC_VALUES:
        x = _as_float(values)
        if task == "binary":
            auc = binary_auc(x, y)
            if auc >= LEAK_SCORE:
                return "ROC-AUC", auc
        metric, accuracy = "nearest-neighbour accuracy", neighbour_accuracy(x, y)
    else:
        codes = pd.factorize(values, use_na_sentinel=False)[0]
        metric, accuracy = "majority-label accuracy", majority_accuracy(codes, y)
    # Also demand most of the baseline's errors go away: with 99.5% of one class, always
    # guessing it already scores 0.995 and says nothing about the column.
    if accuracy >= LEAK_SCORE and (1 - accuracy) <= 0.1 * (1 - baseline):
        return metric, accuracy
    return None


def majority_accuracy(codes: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out accuracy of predicting each row's label as the majority of the other rows
    with the same value. A value seen once falls back to the overall majority class, so a column
    distinct on every row (an id) scores the baseline rather than a trivial 1.0.

    >>> round(majority_accuracy(np.array([0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 0])), 2)
    1.0
    >>> round(majority_accuracy(np.arange(6), np.array([0, 1, 0, 1, 1, 1])), 2)
    0.67
    """
    k = int(y.max()) + 1
    pair = codes.astype(np.int64) * k + y
    pairs, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    value, label = pairs // k, pairs % k
    order = np.lexsort((-counts, value))
    v_sorted, c_sorted, l_sorted = value[order], counts[order], label[order]
    first = np.r_[True, v_sorted[1:] != v_sorted[:-1]]
    second = np.r_[False, first[:-1] & ~first[1:]]
    n_values = int(codes.max()) + 1
    top_label = np.full(n_values, -1)
    top_label[v_sorted[first]] = l_sorted[first]
    runner_up = np.zeros(n_values, dtype=np.int64)
    runner_up[v_sorted[second]] = c_sorted[second]
    own = counts[inverse]
    # Without the row itself its label must still strictly win; ties count as wrong.
    correct = (y == top_label[codes]) & (own - 1 > runner_up[codes])
    alone = np.bincount(codes, minlength=n_values)[codes] == 1
    correct = np.where(alone, y == np.bincount(y).argmax(), correct)
    return float(correct.mean())


def neighbour_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy along one numeric feature; missing values
    form their own block. Ties are shuffled (fixed seed) so a file sorted by label cannot make
    a repeated value look predictive."""
    filled = _fill_missing(x, high=True)
    jitter = np.random.default_rng(0).permutation(len(x))
    order = np.lexsort((jitter, filled))
    xs, ys = filled[order], y[order]
    gap = np.diff(xs)
    before = np.r_[np.inf, gap]
    after = np.r_[gap, np.inf]
    prev_label = np.r_[ys[:1], ys[:-1]]
    next_label = np.r_[ys[1:], ys[-1:]]
    predicted = np.where(before <= after, prev_label, next_label)
    return float(np.mean(predicted == ys))


def binary_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Best single-feature ROC-AUC in either direction, missing values ranked lowest or highest.

    >>> binary_auc(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 0]))
    1.0
    """
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return 0.5
    best = 0.5
    for high in (False, True):
        ranks = rankdata(_fill_missing(x, high=high))
        auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        best = max(best, auc, 1 - auc)
    return float(best)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """|Spearman rho| over rows where both are present; 0 when it is undefined."""
    both = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[both], y[both]
    if len(x) < LEAK_MIN_ROWS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(abs(np.corrcoef(rankdata(x), rankdata(y))[0, 1]))


def _fill_missing(x: np.ndarray, *, high: bool) -> np.ndarray:
    present = x[~np.isnan(x)]
    if present.size == 0:
        return np.zeros_like(x)
    span = float(present.max() - present.min()) + 1.0
    fill = present.max() + span if high else present.min() - span
    return np.where(np.isnan(x), fill, x)


def _as_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
