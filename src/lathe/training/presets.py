"""Presets turn (schema, data, model name, preset, budget) into a fitted model.

* `fast`: one model with strong defaults, early-stopped on the validation split (seconds).
* `best`: spends up to the time budget on quality: k-fold bagging of LightGBM with
  parameters chosen for generalisation, each fold early-stopped on its own held-out part;
  for linear models, the regularisation is chosen on the validation split.

`--model auto` picks `linear` when text columns carry the signal (TF-IDF + logistic
regression is strong and fast there) and `gbm` otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from lathe.data.schema import Schema
from lathe.evaluation.metrics import compute_metrics, higher_is_better, primary_metric
from lathe.models import FitData, ModelFamily, get_family

__all__ = ["choose_family", "fit_preset", "BEST_GBM_PARAMS", "DEFAULT_BUDGET_S"]

DEFAULT_BUDGET_S = {"fast": 60.0, "best": 120.0}
BEST_GBM_PARAMS: dict[str, Any] = {
    "learning_rate": 0.02,
    "num_leaves": 24,
    "min_child_samples": 30,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 2.0,
    "cat_smooth": 20.0,
    "n_estimators": 5000,
    "early_stopping_rounds": 200,
}
Progress = Callable[[str, dict[str, Any]], None]


def choose_family(schema: Schema) -> str:
    texts = schema.names_of("text")
    if texts and len(texts) * 2 >= len(schema.columns):
        return "linear"
    return "gbm"


def _score(schema: Schema, model: ModelFamily, X: pd.DataFrame, y: np.ndarray) -> float:
    metric = primary_metric(schema.task or "regression")
    value = compute_metrics(schema.task or "regression", y, model.predict_raw(X), schema.classes)
    score = value.get(metric)
    if score is None:
        score = value["accuracy"]
    return float(score) if higher_is_better(metric) else -float(score)


def fit_preset(
    data: FitData,
    model: str = "auto",
    preset: str = "fast",
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ModelFamily:
    """Fit the chosen family under the preset; returns the fitted model (maybe an ensemble)."""
    name = choose_family(data.schema) if model == "auto" else model
    family = get_family(name)
    callbacks = [progress] if progress else []
    params = dict(params or {})
    if preset == "fast" or name not in ("gbm", "linear"):
        return family(**params).fit(data, callbacks)
    if name == "linear":
        return _best_linear(data, params, callbacks)
    return _best_gbm(data, {**BEST_GBM_PARAMS, **params}, callbacks)


def _best_linear(data: FitData, params: dict[str, Any], callbacks: list[Any]) -> ModelFamily:
    from lathe.models.linear import Linear

    key = "alpha" if data.schema.task == "regression" else "C"
    grid = [params[key]] if key in params else [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    if data.X_valid is None or data.y_valid is None or len(grid) == 1:
        return Linear(**{**params, key: grid[0]}).fit(data, callbacks)
    started, best, best_value = time.monotonic(), -np.inf, grid[0]
    for value in grid:
        candidate = Linear(**{**params, key: value}).fit(data, callbacks)
        score = _score(data.schema, candidate, data.X_valid, data.y_valid)
        if score > best:
            best, best_value = score, value
        if data.time_budget_s and time.monotonic() - started > data.time_budget_s / 2:
            break
    combined = FitData(data.schema, pd.concat([data.X_train, data.X_valid]),
                       np.concatenate([data.y_train, data.y_valid]), seed=data.seed,
                       threads=data.threads)
    return Linear(**{**params, key: best_value}).fit(combined, callbacks)


def _best_gbm(data: FitData, params: dict[str, Any], callbacks: list[Any]) -> ModelFamily:
    from lathe.models.ensemble import Ensemble
    from lathe.models.gbm import GBM

    X = data.X_train if data.X_valid is None else pd.concat([data.X_train, data.X_valid])
    y = data.y_train if data.y_valid is None else np.concatenate([data.y_train, data.y_valid])
    folds = int(params.pop("folds", 5))
    splitter: Any = (StratifiedKFold(folds, shuffle=True, random_state=data.seed)
                     if data.schema.is_classification and np.bincount(y).min() >= folds
                     else KFold(folds, shuffle=True, random_state=data.seed))
    started = time.monotonic()
    budget = data.time_budget_s or DEFAULT_BUDGET_S["best"]
    members: list[ModelFamily] = []
    for i, (fit_idx, hold_idx) in enumerate(splitter.split(X, y if data.schema.is_classification else None)):
        remaining = budget - (time.monotonic() - started)
        if members and remaining < (time.monotonic() - started) / len(members):
            break  # another fold would overrun the budget
        for cb in callbacks:
            cb("member", {"member": i + 1, "total": folds})
        fold = FitData(data.schema, X.iloc[fit_idx], y[fit_idx], X.iloc[hold_idx], y[hold_idx],
                       seed=data.seed + i, time_budget_s=max(remaining, 1.0), threads=data.threads)
        members.append(GBM(**params).fit(fold, callbacks))
    ensemble = Ensemble(members)
    ensemble.schema = data.schema
    ensemble.learning_curve = members[0].learning_curve
    ensemble.learning_curve_metric = members[0].learning_curve_metric
    return ensemble
