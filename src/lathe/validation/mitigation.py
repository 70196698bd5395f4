"""Fairness mitigation by post-processing: Fairlearn's ThresholdOptimizer on the model's
scores, cross-fitted (fitted on one half of DATA, predicting the other, and the other way
round, so that every row is measured by a fit that never saw it), with the cost in accuracy
reported beside the gain in parity.

The model itself is not refitted: ThresholdOptimizer picks, per group, (randomised)
thresholds on the positive-class probability that satisfy the constraint (equalized odds
by default) at the best accuracy. `mitigate` reports before/after on every row of DATA.

>>> sorted(CONSTRAINTS)
['demographic_parity', 'equalized_odds', 'true_positive_rate_parity']
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lathe.errors import MissingDependency, UsageError
from lathe.validation._scored import Scored
from lathe.validation.fairness import group_fairness, sensitive_groups

__all__ = ["mitigate", "CONSTRAINTS"]

CONSTRAINTS = ("equalized_odds", "demographic_parity", "true_positive_rate_parity")
SCORE = "__lathe_score__"
MIN_CLASS_ROWS = 50
POOLED = "(small groups)"


def _pool_small(groups: np.ndarray, y: np.ndarray, min_rows: int) -> np.ndarray:
    """Groups with fewer than `min_rows` positives or negatives in each half, pooled.

    >>> _pool_small(np.array(["a"] * 300 + ["b"] * 10), np.array([0, 1] * 155), 50).tolist()[-1]
    '(small groups)'
    """
    out = groups.astype(object).copy()
    for g in set(groups.tolist()):
        rows = groups == g
        if min(int((y[rows] == 1).sum()), int((y[rows] == 0).sum())) < 2 * min_rows:
            out[rows] = POOLED
    return out.astype(str)


def _fixed_scores() -> Any:
    """A fitted scikit-learn classifier whose probability is the score column it is given."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class FixedScores(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any) -> FixedScores:
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            score = np.asarray(X[SCORE], dtype=float)
            return np.column_stack([1.0 - score, score])

        def predict(self, X: Any) -> np.ndarray:
            return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    return FixedScores().fit(None, None)


def _half(groups: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A boolean mask: half of each (group, label) cell, at random."""
    rng = np.random.default_rng(seed)
    fit = np.zeros(len(y), dtype=bool)
    for key in sorted(set(zip(groups.tolist(), y.tolist(), strict=True))):  # hash-order free
        rows = np.flatnonzero((groups == key[0]) & (y == key[1]))
        fit[rng.permutation(rows)[: (len(rows) + 1) // 2]] = True
    return fit


def _measure(y: np.ndarray, p: np.ndarray, g: np.ndarray) -> dict[str, float]:
    fair = group_fairness(y, p, g)
    return {"accuracy": float(np.mean(y == p)),
            "selection_rate": float(np.mean(p)),
            "equalized_odds_difference": fair["equalized_odds_difference"],
            "demographic_parity_difference": fair["demographic_parity_difference"]}


def mitigate(scored: Scored, column: str, *, constraint: str = "equalized_odds",
             seed: int = 0, min_class_rows: int = MIN_CLASS_ROWS) -> dict[str, Any]:
    """Cross-fit ThresholdOptimizer on two halves; before/after on every row."""
    if constraint not in CONSTRAINTS:
        raise UsageError(f"unknown fairness constraint {constraint!r}",
                         hint="one of " + ", ".join(CONSTRAINTS))
    if scored.task != "binary" or scored.positive is None:
        raise UsageError("mitigation needs a binary classifier; this model's task is "
                         f"{scored.task}")
    try:
        from fairlearn.postprocessing import ThresholdOptimizer
    except ImportError:
        raise MissingDependency("mitigation needs Fairlearn",
                                hint="pip install 'lathe[validation]'") from None
    import pandas as pd

    groups = sensitive_groups(scored, column)
    y = (scored.y == scored.positive).astype(int)
    before = (scored.pred == scored.positive).astype(int)
    X = pd.DataFrame({SCORE: scored.raw[:, scored.positive]})
    # a group with few positives or negatives gets thresholds fitted to noise: such groups
    # share one set of thresholds (parity is still measured over every original group)
    pooled = _pool_small(groups, y, min_class_rows)
    half = _half(groups, y, seed)
    after = np.zeros(len(y), dtype=int)
    chance = np.zeros(len(y))  # the probability that the randomised rule says positive
    for fit in (half, ~half):  # cross-fitting: every row is predicted by the other half's fit
        optimizer = ThresholdOptimizer(estimator=_fixed_scores(), constraints=constraint,
                                       objective="accuracy_score", prefit=True,
                                       predict_method="predict_proba")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Fairlearn's notes on degenerate groups
            optimizer.fit(X[fit], y[fit], sensitive_features=pooled[fit])
            after[~fit] = np.asarray(optimizer.predict(X[~fit], sensitive_features=pooled[~fit],
                                                       random_state=seed), dtype=int)
            chance[~fit] = optimizer._pmf_predict(X[~fit], sensitive_features=pooled[~fit])[:, 1]
    was = _measure(y, before, groups)
    now = _measure(y, after, groups)
    expected = _expected(y, chance, groups)
    key = "equalized_odds_difference" if constraint != "demographic_parity" else \
        "demographic_parity_difference"
    return {"column": column, "method": "fairlearn ThresholdOptimizer", "constraint": constraint,
            "fitted_on": int(half.sum()), "evaluated_on": int(len(y)), "folds": 2,
            "pooled_groups": sorted(set(groups[pooled == POOLED].tolist())),
            "before": was, "after": now, "after_expected": expected,
            "accuracy_cost": was["accuracy"] - now["accuracy"],
            f"{key}_reduction": _gain(was[key], now[key]),
            f"expected_{key}_reduction": _gain(was[key], expected[key])}


def _gain(before: float, after: float) -> float:
    return (before - after) / before if before > 0 else 0.0


def _expected(y: np.ndarray, chance: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """The randomised rule's expected rates: its coin flips average out. Small groups'
    realised rates scatter around these by chance alone (22 positives: +-0.1 in TPR)."""
    rates = {g: (chance[(groups == g) & (y == 1)].mean() if ((groups == g) & (y == 1)).any()
                 else np.nan,
                 chance[(groups == g) & (y == 0)].mean() if ((groups == g) & (y == 0)).any()
                 else np.nan,
                 chance[groups == g].mean()) for g in set(groups.tolist())}

    def spread(i: int) -> float:
        values = [r[i] for r in rates.values() if np.isfinite(r[i])]
        return float(max(values) - min(values)) if len(values) > 1 else float("nan")

    return {"accuracy": float(np.mean(chance * y + (1 - chance) * (1 - y))),
            "selection_rate": float(chance.mean()),
            "equalized_odds_difference": max(spread(0), spread(1)),
            "demographic_parity_difference": spread(2)}
