"""The `mlp` family on small real samples: it learns, handles missing values, L1, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from lathe.data.infer import encode_labels, infer_schema  # noqa: E402
from lathe.models import FitData  # noqa: E402
from lathe.models.mlp import MLP, TabularPrep, permutation_importance  # noqa: E402

pytestmark = pytest.mark.text


def _adult(adult_small: pd.DataFrame) -> tuple:  # noqa: ANN001
    frame = adult_small.head(1200)
    schema = infer_schema(frame, "income")
    X, _ = schema.conform(frame)
    y = encode_labels(frame["income"], schema)
    return schema, X.iloc[:900], y[:900], X.iloc[900:], y[900:]


def test_mlp_beats_the_majority_class_on_adult(adult_small: pd.DataFrame) -> None:
    schema, X, y, Xv, yv = _adult(adult_small)
    events: list[dict] = []
    model = MLP(max_epochs=8).fit(FitData(schema, X, y, Xv, yv),
                                  [lambda e, info: events.append(info)])
    accuracy = (model.predict_raw(Xv).argmax(1) == yv).mean()
    assert accuracy > max(np.bincount(yv)) / len(yv) + 0.03
    assert model.learning_curve_metric == "valid_log_loss"
    assert len(model.learning_curve) == len(events) and events[-1]["total"] == 8
    assert set(model.feature_importance()) <= set(schema.feature_names)


def test_prep_imputes_medians_and_maps_unseen_categories_to_zero() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0] * 5, "c": list("abab") * 5,
                          "y": [0, 1] * 10})
    schema = infer_schema(frame, "y", categorical_columns=["c"])
    X, _ = schema.conform(frame)
    prep = TabularPrep(schema).fit(X)
    assert prep.medians == [2.0]
    new, _ = schema.conform(pd.DataFrame({"x": [np.nan], "c": ["zzz"]}))
    numeric, codes = prep.transform(new)
    assert codes.tolist() == [[0]] and np.isfinite(numeric).all()


def test_l1_shrinks_first_layer_weights(adult_small: pd.DataFrame) -> None:
    schema, X, y, Xv, yv = _adult(adult_small)
    plain = MLP(max_epochs=3).fit(FitData(schema, X, y, Xv, yv))
    sparse = MLP(max_epochs=3, l1=1e-3).fit(FitData(schema, X, y, Xv, yv))

    def first_layer_mass(model: MLP) -> float:
        return float(model.module.net.head[0].weight.detach().abs().sum())

    assert first_layer_mass(sparse) < first_layer_mass(plain)


def test_regression_resumes_to_the_same_predictions(adult_small: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    frame = adult_small.head(800).drop(columns=["income"])
    schema = infer_schema(frame, "hours_per_week", task="regression")
    X, _ = schema.conform(frame)
    y = encode_labels(frame["hours_per_week"], schema)
    data = FitData(schema, X[:600], y[:600], X[600:], y[600:])
    params = {"max_epochs": 4, "patience": 10, "checkpoint_dir": str(tmp_path / "ck")}
    full = MLP(**{**params, "checkpoint_dir": str(tmp_path / "full")}).fit(data)

    def interrupt(event: str, info: dict) -> None:
        if info["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        MLP(**params).fit(data, [interrupt])
    resumed = MLP(**params, resume=True).fit(data)
    assert resumed.loop_summary["resumed_from"] == 1
    np.testing.assert_array_equal(resumed.predict_raw(X[600:]), full.predict_raw(X[600:]))


def test_permutation_importance_finds_the_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))

    def score(arrays: list[np.ndarray]) -> float:
        return float(np.mean((arrays[0][:, 0] - x[:, 0]) ** 2))

    shares = permutation_importance(score, [x], {"a": [(0, [0])], "b": [(0, [1])]})
    assert shares["a"] == pytest.approx(1.0) and shares["b"] == 0.0
