"""`voting` and `stacking` families on a small real sample of Adult (and wine regression)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.data.infer import encode_labels, infer_schema
from lathe.errors import ConfigError
from lathe.models import FitData
from lathe.models.stacking import Stacking, Voting, fit_simplex_weights
from lathe.tuning._objective import quality

MEMBERS = [{"family": "gbm", "params": {"n_estimators": 60, "early_stopping_rounds": 10}},
           {"family": "linear"}]


def _data(frame: pd.DataFrame, target: str) -> tuple[FitData, pd.DataFrame, np.ndarray]:
    schema = infer_schema(frame, target)
    X, _ = schema.conform(frame)
    y = encode_labels(frame[target], schema)
    a, b = int(len(frame) * 0.6), int(len(frame) * 0.8)
    data = FitData(schema, X.iloc[:a], y[:a], X.iloc[a:b], y[a:b], threads=1)
    return data, X.iloc[b:], y[b:]


@pytest.fixture(scope="module")
def adult_data(adult: pd.DataFrame) -> tuple[FitData, pd.DataFrame, np.ndarray]:
    return _data(adult.head(1500).reset_index(drop=True), "income")


def test_voting_learns_weights_on_validation_and_round_trips(adult_data, tmp_path: Path) -> None:  # noqa: ANN001
    data, X_test, y_test = adult_data
    model = Voting(members=MEMBERS).fit(data)
    assert len(model.weights) == 2 and sum(model.weights) == pytest.approx(1.0)
    raws = [m.predict_raw(X_test) for m in model.members]
    blend = model.predict_raw(X_test)
    assert np.allclose(blend, model.weights[0] * raws[0] + model.weights[1] * raws[1])
    assert np.allclose(blend.sum(axis=1), 1.0)
    assert quality(data.schema, y_test, blend) > 0.8
    model.save(tmp_path / "v")
    loaded = Voting.load(tmp_path / "v", data.schema)
    assert np.allclose(loaded.predict_raw(X_test), blend)
    assert set(model.feature_importance()) <= set(data.schema.feature_names)


def test_voting_with_given_weights_and_bad_weights(adult_data) -> None:  # noqa: ANN001
    data, _, _ = adult_data
    assert Voting(members=MEMBERS, weights=[1, 3]).fit(data).weights == [0.25, 0.75]
    with pytest.raises(ConfigError, match="weight"):
        Voting(members=MEMBERS, weights=[1.0]).fit(data)


def test_stacking_meta_learner_on_out_of_fold_predictions(adult_data, tmp_path: Path) -> None:  # noqa: ANN001
    data, X_test, y_test = adult_data
    model = Stacking(members=MEMBERS, folds=3).fit(data)
    assert np.atleast_2d(model.meta.coef_).shape == (1, 2)  # one input per base (binary)
    proba = model.predict_raw(X_test)
    assert proba.shape == (len(X_test), 2) and np.allclose(proba.sum(axis=1), 1.0)
    base_scores = [quality(data.schema, y_test, m.predict_raw(X_test)) for m in model.members]
    assert quality(data.schema, y_test, proba) > min(base_scores)
    model.save(tmp_path / "s")
    assert np.allclose(Stacking.load(tmp_path / "s", data.schema).predict_raw(X_test), proba)
    with pytest.raises(ConfigError, match="folds"):
        Stacking(members=MEMBERS, folds=1).fit(data)


def test_stacking_and_voting_do_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "z": rng.normal(size=400),
                          "c": rng.choice(list("abc"), 400)})
    frame["y"] = 2 * frame.x - frame.z + (frame.c == "a") + rng.normal(0, 0.1, 400)
    data, X_test, y_test = _data(frame, "y")
    for model in (Stacking(members=MEMBERS, folds=3).fit(data), Voting(members=MEMBERS).fit(data)):
        pred = model.predict_raw(X_test)
        assert pred.shape == (len(X_test),)
        assert quality(data.schema, y_test, pred) < 0.5 * float(np.std(y_test))


def test_simplex_weights_prefer_the_better_member() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    weights = fit_simplex_weights([y + 0.01, y[::-1].copy()], y, "regression")
    assert weights[0] > 0.95 and sum(weights) == pytest.approx(1.0)
