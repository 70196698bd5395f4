"""The linear family trained with differential privacy: DP-SGD (Opacus) on a linear head over
features that learn nothing from the rows (numbers scaled by DP or public bounds, one-hot
codes of the DP vocabulary), then copied into a scikit-learn LogisticRegression, so the
artifact is an ordinary linear pipeline (predict, explain and ONNX work unchanged).

Why Opacus and not diffprivlib's objective perturbation: diffprivlib 0.6.6 does not import
with scikit-learn 1.9 here, and its LogisticRegression needs a bound on every row's norm that
costs budget as well; bench/privacy.py compares the accuracies.

>>> import numpy as np
>>> BoundsScaler([0.0], [10.0]).fit(None).transform(np.array([[5.0], [20.0], [np.nan]]))
array([[0.],
       [1.],
       [0.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["BoundsScaler", "private_linear_pipeline"]


class BoundsScaler(TransformerMixin, BaseEstimator):
    """Clip to [lo, hi] and map to [-1, 1]; a missing value maps to 0 (the middle). `fit`
    learns nothing from the data."""

    def __init__(self, lo: list[float], hi: list[float]) -> None:
        self.lo, self.hi = lo, hi

    def fit(self, X: Any, y: Any = None) -> BoundsScaler:
        return self

    def transform(self, X: Any) -> np.ndarray:
        lo, hi = np.asarray(self.lo, dtype=float), np.asarray(self.hi, dtype=float)
        values = np.clip(np.asarray(X, dtype=float), lo, hi)
        scaled = (values - (lo + hi) / 2) / ((hi - lo) / 2)
        return np.where(np.isnan(scaled), 0.0, scaled)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(input_features) if input_features is not None else
                          [f"x{i}" for i in range(len(self.lo))], dtype=object)


def private_linear_pipeline(schema: Any, X: Any, y: np.ndarray, dp: dict[str, Any],
                            threads: int | None) -> tuple[Any, dict[str, Any]]:
    """(fitted Pipeline, privacy record) for a classification label."""
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from lathe.privacy.dp.sgd import train_private

    numeric = list(dp["bounds"])
    categorical = schema.names_of("categorical")
    parts: list[tuple[str, Any, Any]] = []
    if numeric:
        parts.append(("num", BoundsScaler([dp["bounds"][c][0] for c in numeric],
                                          [dp["bounds"][c][1] for c in numeric]), numeric))
    if categorical:
        vocab = [list(schema.column(c).categories or []) or ["__none__"] for c in categorical]
        parts.append(("cat", OneHotEncoder(categories=vocab, handle_unknown="ignore"),
                      categorical))
    features = ColumnTransformer(parts, sparse_threshold=0.0)
    matrix = np.asarray(features.fit_transform(X), dtype=np.float32)
    k = schema.n_classes
    head = torch.nn.Linear(matrix.shape[1], k)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        record = train_private(
            head, (torch.from_numpy(matrix), torch.tensor(np.asarray(y), dtype=torch.long)),
            lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), **dp["sgd"])
    finally:
        torch.set_num_threads(before)
    weight = head.weight.detach().numpy().astype(np.float64)
    bias = head.bias.detach().numpy().astype(np.float64)
    estimator = LogisticRegression()
    estimator.classes_ = np.arange(k)
    if k == 2:  # scikit-learn keeps one row for two classes: the log-odds of class 1
        estimator.coef_, estimator.intercept_ = (weight[1] - weight[0])[None, :], \
            np.array([bias[1] - bias[0]])
    else:
        estimator.coef_, estimator.intercept_ = weight, bias
    estimator.n_features_in_ = matrix.shape[1]
    estimator.n_iter_ = np.array([record["steps"]])
    return Pipeline([("features", features), ("estimator", estimator)]), record
