"""The trial objective: holdout pruning on per-round validation losses that a family reports,
oriented like the study, and the latency objective."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import optuna
import pandas as pd
import pytest

from lathe.data.schema import Schema
from lathe.models import FitData, ModelFamily
from lathe.tuning._objective import Objective, latency_ms, quality
from lathe.tuning._prepare import prepare


class Rounds(ModelFamily):
    """A first-class fake: 'trains' for 200 rounds, reporting a validation loss that falls to
    `floor`; predicts the training base rate. Counts the rounds it actually ran."""

    name = "rounds"
    ran: list[int] = []

    def fit(self, data: FitData, callbacks: Sequence[Any] = ()) -> Self:
        self.schema = data.schema
        self.rate = float(np.mean(data.y_train))
        done = 0
        try:
            for r in range(0, 200, 25):
                done = r
                loss = self.params["floor"] + 1.0 / (1 + r)
                for cb in callbacks:
                    cb("round", {"round": r, "total": 200, "valid": loss})
            done = 200
        finally:
            Rounds.ran.append(done)
        return self

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.tile([1 - self.rate, self.rate], (len(X), 1))

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        raise NotImplementedError

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"floor": trial.suggest_categorical("floor", [0.1, 0.9])}


def test_holdout_trials_with_a_worse_validation_loss_are_pruned_early(adult: pd.DataFrame) -> None:
    prepared = prepare(adult.head(300), "income", threads=1)
    objective = Objective(prepared, Rounds, overrides=None, objectives=("quality",),
                          cv_folds=None, deadline=None, prune=True)
    Rounds.ran = []
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2))
    study.optimize(objective, n_trials=16)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(t.params["floor"] == 0.9 for t in pruned)  # only the worse loss
    assert min(Rounds.ran) < 200  # pruned fits stopped before their last round
    # intermediate values are negated losses, since the study maximises AUC
    assert max(pruned[0].intermediate_values.values()) < 0


def test_latency_and_quality() -> None:
    schema = Schema(columns=[], target="y", task="regression")
    assert quality(schema, np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(np.sqrt(2))
    prepared_like = pd.DataFrame({"x": np.arange(10.0)})

    class Const(Rounds):
        def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(X))

    assert latency_ms(Const(floor=0.1), prepared_like) >= 0.0
    assert latency_ms(Const(floor=0.1), prepared_like.iloc[:0]) == 0.0
