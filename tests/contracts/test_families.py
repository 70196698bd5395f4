"""Every model family, through one suite: the rules in lathe/models/_base.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.data.infer import encode_labels, infer_schema
from lathe.data.split import split_frame
from lathe.models import FAMILY_NAMES, FitData, ModelFamily, get_family

FAMILIES = [name for name in FAMILY_NAMES if name != "ensemble"] + ["ensemble", "gbm+counts"]


def _dataset(
    kind: str, adult_small: pd.DataFrame, banking: pd.DataFrame
) -> tuple[pd.DataFrame, str, str | None]:
    if kind == "binary":
        return adult_small.head(2000), "income", None
    if kind == "multiclass":
        top = banking["category"].value_counts().index[:5]
        return banking[banking["category"].isin(top)].reset_index(drop=True), "category", None
    frame = adult_small.head(2000).drop(columns=["income"])
    return frame, "hours_per_week", "regression"


def _build(name: str) -> ModelFamily:
    if name == "ensemble":
        return get_family("ensemble")([get_family("gbm")(n_estimators=50), get_family("linear")()])
    if name == "gbm":
        return get_family("gbm")(n_estimators=200)
    if name == "gbm+counts":  # the feature `best` blends in: its state must save and refit too
        return get_family("gbm")(n_estimators=200, value_counts=True)
    return get_family(name)()


@pytest.fixture(params=["binary", "multiclass", "regression"])
def task_data(request, adult_small, banking):  # noqa: ANN001
    frame, target, task = _dataset(request.param, adult_small, banking)
    schema = infer_schema(frame, target, task=task)
    train, valid, test = split_frame(
        frame, target, valid_size=0.15, test_size=0.2, seed=0, stratify=schema.is_classification
    )

    def xy(part: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        return schema.conform(part)[0], encode_labels(part[target], schema)

    return schema, xy(train), xy(valid), xy(test)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_contract(name: str, task_data, tmp_path: Path) -> None:  # noqa: ANN001
    schema, (X, y), (Xv, yv), (Xt, yt) = task_data
    model = _build(name)
    events: list[str] = []
    fitted = model.fit(
        FitData(schema, X, y, Xv, yv, seed=0, threads=1), [lambda event, info: events.append(event)]
    )
    assert fitted is model
    before = Xt.copy()
    raw = model.predict_raw(Xt)
    pd.testing.assert_frame_equal(Xt, before)  # predict must not mutate its input
    if schema.is_classification:
        assert raw.shape == (len(Xt), schema.n_classes)
        np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-6)
        majority = np.bincount(y).argmax()
        assert (raw.argmax(axis=1) == yt).mean() > (yt == majority).mean()
    else:
        assert raw.shape == (len(Xt),)
        assert np.mean((raw - yt) ** 2) < np.var(yt)
    # save -> load predicts the same numbers
    model.save(tmp_path / "model")
    again = get_family(model.name).load(tmp_path / "model", schema)
    np.testing.assert_allclose(again.predict_raw(Xt), raw, rtol=1e-6, atol=1e-9)
    # importance over input columns sums to one
    importance = model.feature_importance()
    assert importance and abs(sum(importance.values()) - 1.0) < 1e-6
    assert set(importance) <= set(schema.feature_names)
    # predict_raw is safe to call from several threads at once
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: again.predict_raw(Xt), range(4)))
    for result in results:
        np.testing.assert_allclose(result, raw, rtol=1e-6, atol=1e-9)
    assert model.describe()["family"] == model.name


@pytest.mark.parametrize("name", [n for n in FAMILY_NAMES if n != "ensemble"])
def test_constructor_takes_only_hyperparameters(name: str) -> None:
    model = get_family(name)()
    assert isinstance(model.params, dict) and model.schema is None


def test_search_space_suggests_parameters() -> None:
    optuna = pytest.importorskip("optuna")
    trial = optuna.trial.FixedTrial(
        {
            "learning_rate": 0.1,
            "num_leaves": 16,
            "min_child_samples": 10,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.9,
            "lambda_l2": 1.0,
            "C": 1.0,
            "alpha": 1.0,
        }
    )
    for name in ("gbm", "linear"):
        params = get_family(name).search_space(trial)
        assert params and get_family(name)(**params).params.items() >= params.items()


# families that refit on every row once the test split is scored (ModelFamily.refit)
REFITS = {"gbm", "gbm+counts", "linear", "mlp", "text", "ensemble", "voting", "stacking"}


@pytest.mark.parametrize("name", FAMILIES)
def test_refit_is_a_new_model_on_every_row_and_leaves_the_first_alone(
        name: str, task_data) -> None:  # noqa: ANN001
    schema, (X, y), (Xv, yv), (Xt, yt) = task_data
    model = _build(name).fit(FitData(schema, X, y, Xv, yv, seed=0, threads=1))
    first = model.predict_raw(Xt)
    X_all, y_all = pd.concat([X, Xv]), np.concatenate([y, yv])
    refitted = model.refit(FitData(schema, X_all, y_all, seed=0, threads=1))
    if name not in REFITS:
        assert refitted is None
        return
    assert refitted is not None and refitted is not model and refitted.name == model.name
    np.testing.assert_allclose(model.predict_raw(Xt), first)  # the first fit is untouched
    raw = refitted.predict_raw(Xt)
    assert raw.shape == first.shape
    if schema.is_classification:
        np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-6)
        # as good as the first fit, give or take noise: it saw the same rows and more
        assert (raw.argmax(1) == yt).mean() >= (first.argmax(1) == yt).mean() - 0.03
    else:
        assert np.mean((raw - yt) ** 2) <= 1.1 * np.mean((first - yt) ** 2)
    assert refitted.learning_curve == model.learning_curve  # the curve that chose its length
    if hasattr(model, "weights"):  # blends keep the weights the validation split chose
        assert refitted.weights == model.weights
        assert refitted.refit_report["members_refitted"] == len(model.members)
    if name == "stacking":  # the meta learner, fitted on out-of-fold predictions, is kept
        assert refitted.meta is model.meta
        assert refitted.refit_report["members_refitted"] == len(model.members)
        assert all(new is not old for new, old in zip(refitted.members, model.members,
                                                      strict=True))
