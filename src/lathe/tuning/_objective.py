"""The function Optuna calls once per trial: fit a family with the trial's parameters and
score it — on the validation split, or fold by fold under cross-validation.

Intermediate values (what pruners compare) are oriented like the study: under CV the running
mean of the fold scores after each fold; on a holdout, the validation loss per boosting round
when the family reports it as `("round", {"round": r, "valid": loss})`, negated when the
study maximises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.evaluation.metrics import higher_is_better, primary_metric, primary_score
from lathe.models import FitData, ModelFamily
from lathe.tuning._prepare import Prepared
from lathe.tuning.space import suggest_params

__all__ = ["Objective", "quality", "latency_ms", "cv_splits"]

LATENCY_ROWS = 1000


def quality(schema: Schema, y: np.ndarray, raw: np.ndarray) -> float:
    """The task's primary metric (roc_auc, accuracy or rmse): `primary_score`.

    >>> from lathe.data.schema import Schema
    >>> s = Schema(columns=[], target="y", task="binary", classes=["a", "b"])
    >>> quality(s, np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.4, .6]]))
    1.0
    """
    return primary_score(schema.task or "regression", y, raw)


def latency_ms(model: ModelFamily, X: pd.DataFrame, repeats: int = 3) -> float:
    """Milliseconds to score 1,000 rows (best of `repeats`, single batch)."""
    rows = X.iloc[:LATENCY_ROWS]
    if not len(rows):
        return 0.0
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_raw(rows)
        best = min(best, time.perf_counter() - started)
    return float(best * 1000.0 * LATENCY_ROWS / len(rows))


def cv_splits(schema: Schema, X: pd.DataFrame, y: np.ndarray, folds: int,
              seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The cross-validation folds: identical rows in one fold, stratified where possible
    (`lathe.data.split.fold_splits`)."""
    from lathe.data.split import fold_splits

    return fold_splits(X, y, folds, seed, stratify=schema.is_classification)


class Objective:
    """Callable objective; picklable state only, so worker processes can rebuild it."""

    def __init__(self, prepared: Prepared, family: type[ModelFamily], *,
                 overrides: Mapping[str, Any] | None, objectives: Sequence[str],
                 cv_folds: int | None, deadline: float | None, prune: bool) -> None:
        self.prepared = prepared
        self.family = family
        self.overrides = dict(overrides or {})
        self.objectives = tuple(objectives)
        self.cv_folds = cv_folds
        self.deadline = deadline
        self.prune = prune and len(self.objectives) == 1
        self.metric = primary_metric(prepared.schema.task or "regression")
        self.maximize = higher_is_better(self.metric)
        self.splits: list[tuple[np.ndarray, np.ndarray]] = []
        if cv_folds:
            X, y = prepared.combined()
            self.splits = cv_splits(prepared.schema, X, y, cv_folds, prepared.fit_data.seed)

    def _budget(self) -> float | None:
        return None if self.deadline is None else max(1.0, self.deadline - time.time())

    def _round_callback(self, trial: Any) -> Any:
        import optuna

        def on_event(event: str, info: dict[str, Any]) -> None:
            if event != "round" or "valid" not in info:
                return
            loss = float(info["valid"])
            trial.report(-loss if self.maximize else loss, int(info["round"]))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at round {info['round']}")

        return on_event

    def __call__(self, trial: Any) -> float | tuple[float, float]:
        params = suggest_params(self.family, trial, self.overrides)
        trial.set_user_attr("pid", os.getpid())
        started = time.perf_counter()
        if self.cv_folds:
            score, model, X_lat = self._cross_validate(trial, params)
        else:
            d = self.prepared.fit_data
            data = FitData(d.schema, d.X_train, d.y_train, d.X_valid, d.y_valid, seed=d.seed,
                           threads=d.threads, time_budget_s=self._budget())
            callbacks = [self._round_callback(trial)] if self.prune else []
            model = self.family(**params).fit(data, callbacks)
            if d.X_valid is not None and d.y_valid is not None and len(d.X_valid):
                X_lat, y_score = d.X_valid, d.y_valid
            else:  # no validation split: the training score is all there is
                X_lat, y_score = d.X_train, d.y_train
            score = quality(d.schema, y_score, model.predict_raw(X_lat))
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - started, 4))
        best_iteration = getattr(model, "best_iteration", None)
        if best_iteration:
            trial.set_user_attr("best_iteration", int(best_iteration))
        if "latency" in self.objectives:
            lat = latency_ms(model, X_lat)
            trial.set_user_attr("latency_ms_per_1000_rows", lat)
            return (score, lat) if self.objectives[0] == "quality" else (lat, score)
        return score

    def _cross_validate(self, trial: Any, params: dict[str, Any]) -> tuple[float, ModelFamily, pd.DataFrame]:
        import optuna

        X, y = self.prepared.combined()
        schema, d = self.prepared.schema, self.prepared.fit_data
        scores: list[float] = []
        model: ModelFamily | None = None
        X_hold = X
        for step, (fit_idx, hold_idx) in enumerate(self.splits):
            if self.deadline is not None and time.time() > self.deadline and scores:
                raise optuna.TrialPruned(f"time budget spent after fold {step}")
            fold = FitData(schema, X.iloc[fit_idx], y[fit_idx], seed=d.seed, threads=d.threads,
                           time_budget_s=self._budget())
            model = self.family(**params).fit(fold)
            X_hold = X.iloc[hold_idx]
            scores.append(quality(schema, y[hold_idx], model.predict_raw(X_hold)))
            trial.set_user_attr("fold_scores", scores)
            if self.prune:
                trial.report(float(np.mean(scores)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {step + 1}")
        assert model is not None
        return float(np.mean(scores)), model, X_hold
