"""Per-row feature contributions and global importance for any lathe model.

* `gbm` models: LightGBM's own TreeSHAP (`pred_contrib=True`) — exact, fast, in the model's
  raw units (log-odds for binary, the class's raw score for multiclass, the value for
  regression).
* any other family: `shap.KernelExplainer` when the `shap` package is importable, else the
  permutation-sampling Shapley estimate in `lathe.explain.shapley` — in probability units
  (or the value for regression).

Classification explains the positive class for binary tasks and each row's predicted class
for multiclass. Contributions plus `attrs["base_value"]` give the explained output.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("examples/data/adult.csv", target="income")  # doctest: +SKIP
>>> explain_rows(model, rows).iloc[0].sort_values().tail(3)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import DataError, UsageError
from lathe.explain.shapley import sampling_shapley

__all__ = ["explain_rows", "global_importance", "METHODS"]

METHODS = ("auto", "tree", "sampling", "shap")
BACKGROUND_ROWS = 50
MIN_OWN_BACKGROUND = 10


def _explained_class(model: Any, proba: np.ndarray) -> np.ndarray:
    if model.schema.task == "binary":
        return np.ones(len(proba), dtype=int)
    return proba.argmax(axis=1)


def _tree_contributions(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    family = model.family
    values, base, columns = family.tree_contributions(X)
    if model.schema.task == "multiclass":
        rows, chosen = np.arange(len(X)), _explained_class(model, family.predict_raw(X))
        return values[rows, chosen], base[rows, chosen], columns, \
            "raw score (log-odds, before softmax)"
    units = "log-odds" if model.schema.task == "binary" else "prediction"
    return values[:, 0], base[:, 0], columns, units


def _missing_row(X: pd.DataFrame) -> pd.DataFrame:
    """A reference row with every value missing: what the model predicts knowing nothing."""
    row = X.iloc[:1].copy()
    for col in row.columns:
        row[col] = "" if row[col].dtype == object else None
    return row.astype(X.dtypes.to_dict())


def _sampled_contributions(model: Any, X: pd.DataFrame, background: pd.DataFrame,
                           n_permutations: int, seed: int, use_shap: bool
                           ) -> tuple[np.ndarray, np.ndarray]:
    family = model.family
    classes = (_explained_class(model, family.predict_raw(X))
               if model.schema.is_classification else None)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        raw = family.predict_raw(frame)
        return np.asarray(raw, dtype=float).ravel() if classes is None else raw

    if not use_shap:
        return sampling_shapley(predict, X, background, n_permutations=n_permutations,
                                seed=seed, output_index=classes)
    import shap  # pragma: no cover - only where the optional shap package is installed

    contributions, base = np.zeros(X.shape), np.zeros(len(X))  # pragma: no cover
    dtypes = X.dtypes.to_dict()  # pragma: no cover
    for i in range(len(X)):  # pragma: no cover
        k = 0 if classes is None else int(classes[i])

        def one(a: np.ndarray, k: int = k) -> np.ndarray:
            raw = predict(pd.DataFrame(a, columns=X.columns).astype(dtypes))
            return raw if raw.ndim == 1 else raw[:, k]

        explainer = shap.KernelExplainer(one, background)
        contributions[i] = np.ravel(explainer.shap_values(X.iloc[[i]]))
        base[i] = float(np.ravel(explainer.expected_value)[0])
    return contributions, base  # pragma: no cover


def explain_rows(model: Any, frame: pd.DataFrame, *, method: str = "auto",
                 background: pd.DataFrame | None = None, n_permutations: int = 32,
                 seed: int = 0) -> pd.DataFrame:
    """One row of per-feature contributions per input row (index kept, columns = features).

    `attrs`: method, units, base_value (list, one per row), explained_class (list or None),
    background (what the sampling methods compared against).
    """
    if method not in METHODS:
        raise UsageError(f"unknown explanation method {method!r}",
                         hint=f"choose one of {', '.join(METHODS)}")
    if not len(frame):
        raise DataError("no rows to explain", hint="pass at least one row")
    X, _ = model.schema.conform(frame, source="rows to explain")
    by_trees = model.family.has_tree_contributions
    if method == "tree" and not by_trees:
        raise UsageError(f"the tree explainer needs a gbm model, not {model.family.name}",
                         hint="use method='auto' or 'sampling'")
    reference = "none"
    if method == "tree" or (method == "auto" and by_trees):
        values, base, columns, units = _tree_contributions(model, X)
        used = "tree_shap"
    else:
        use_shap = method == "shap" or (method == "auto"
                                         and importlib.util.find_spec("shap") is not None)
        if method == "shap" and importlib.util.find_spec("shap") is None:
            raise UsageError("method='shap' needs the shap package", hint="pip install shap")
        if background is not None:
            bg, _ = model.schema.conform(background, source="background")
            reference = f"{len(bg)} given rows"
        elif len(X) >= MIN_OWN_BACKGROUND:
            bg, reference = X, f"{min(len(X), BACKGROUND_ROWS)} of the explained rows"
        else:
            bg, reference = _missing_row(X), "an all-missing row"
        bg = bg.sample(min(len(bg), BACKGROUND_ROWS), random_state=seed) if len(bg) > BACKGROUND_ROWS else bg
        values, base = _sampled_contributions(model, X, bg, n_permutations, seed, use_shap)
        columns = list(X.columns)
        units = "prediction" if model.schema.task == "regression" else "probability"
        used = "kernel_shap" if use_shap else "sampling_shapley"
    out = pd.DataFrame(values, columns=columns, index=frame.index)
    classes = None
    if model.schema.is_classification:
        idx = _explained_class(model, model.family.predict_raw(X))
        names = list(model.classes or [])
        classes = [names[i] if i < len(names) else int(i) for i in idx]
    out.attrs.update(method=used, units=units, base_value=[float(b) for b in base],
                     explained_class=classes, background=reference)
    return out


def _labelled(model: Any, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray] | None:
    from lathe.data.infer import encode_labels

    target = model.schema.target
    if target is None or target not in frame.columns:
        return None
    labelled = frame[frame[target].notna()]
    if len(labelled) < 10:
        return None
    X, _ = model.schema.conform(labelled, source="importance data")
    return X, encode_labels(labelled[target], model.schema, source="importance data")


class _Scorer:
    """The minimal estimator sklearn's permutation_importance needs, around a lathe model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X: Any, y: Any) -> _Scorer:  # never called; sklearn checks it exists
        return self

    def score(self, X: pd.DataFrame, y: np.ndarray) -> float:
        from lathe.evaluation.metrics import primary_score

        return primary_score(self.model.task, y, self.model.family.predict_raw(X), oriented=True)


def global_importance(model: Any, frame: pd.DataFrame, *, n_repeats: int = 5,
                      max_rows: int = 2000, shap_rows: int = 200, seed: int = 0,
                      contributions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per feature: the drop in the primary metric when its column is shuffled (needs the
    label column in `frame`; NaN otherwise) and the mean |contribution| over a sample
    (`contributions` from `explain_rows`, when the caller already has them)."""
    from sklearn.inspection import permutation_importance

    sample = frame.sample(min(len(frame), max_rows), random_state=seed) if len(frame) > max_rows else frame
    X, _ = model.schema.conform(sample, source="importance data")
    table = pd.DataFrame(index=pd.Index(list(X.columns), name="feature"))
    labelled = _labelled(model, sample)
    if labelled is not None:
        Xl, y = labelled
        scorer = _Scorer(model)
        result = permutation_importance(scorer, Xl, y, scoring=lambda est, a, b: est.score(a, b),
                                        n_repeats=n_repeats, random_state=seed)
        table["permutation_mean"] = result.importances_mean
        table["permutation_std"] = result.importances_std
    else:
        table["permutation_mean"] = np.nan
        table["permutation_std"] = np.nan
    if contributions is None:
        contributions = explain_rows(model, sample.iloc[:shap_rows], n_permutations=8, seed=seed)
    table["mean_abs_contribution"] = contributions.abs().mean().reindex(table.index).fillna(0.0)
    table.attrs.update(method=contributions.attrs["method"], units=contributions.attrs["units"],
                       n_rows=int(len(sample)), labelled=labelled is not None)
    key = "permutation_mean" if labelled is not None else "mean_abs_contribution"
    return table.sort_values(key, ascending=False)
