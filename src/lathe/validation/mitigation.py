"""Fairness mitigation by post-processing: Fairlearn's ThresholdOptimizer on the model's
scores, fitted on one half of DATA and measured on the other, with the cost in accuracy
reported beside the gain in parity.

The model itself is not refitted: ThresholdOptimizer picks, per group, (randomised)
thresholds on the positive-class probability that satisfy the constraint (equalized odds
by default) at the best accuracy. `mitigate` reports before/after on the held-back half.

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
    for key in set(zip(groups.tolist(), y.tolist(), strict=True)):
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
             seed: int = 0) -> dict[str, Any]:
    """Fit ThresholdOptimizer on half of the rows, report before/after on the other half."""
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
    fit = _half(groups, y, seed)
    held = ~fit
    optimizer = ThresholdOptimizer(estimator=_fixed_scores(), constraints=constraint,
                                   objective="accuracy_score", prefit=True,
                                   predict_method="predict_proba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Fairlearn's notes on degenerate groups
        optimizer.fit(X[fit], y[fit], sensitive_features=groups[fit])
        after = np.asarray(optimizer.predict(X[held], sensitive_features=groups[held],
                                             random_state=seed), dtype=int)
    was = _measure(y[held], before[held], groups[held])
    now = _measure(y[held], after, groups[held])
    key = "equalized_odds_difference" if constraint != "demographic_parity" else \
        "demographic_parity_difference"
    gain = (was[key] - now[key]) / was[key] if was[key] > 0 else 0.0
    return {"column": column, "method": "fairlearn ThresholdOptimizer", "constraint": constraint,
            "fitted_on": int(fit.sum()), "evaluated_on": int(held.sum()),
            "before": was, "after": now,
            "accuracy_cost": was["accuracy"] - now["accuracy"],
            f"{key}_reduction": gain}
