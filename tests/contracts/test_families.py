"""Every model family, through one suite: the rules in lathe/models/_base.py."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.data.infer import encode_labels, infer_schema
from lathe.data.split import split_frame
from lathe.models import FAMILY_NAMES, FitData, ModelFamily, get_family

FAMILIES = [name for name in FAMILY_NAMES if name != "ensemble"] + [
    "ensemble", "gbm+counts", "catch_all", "onnx-int8", "torch-int8"]
# made from a fitted parent (`lathe compress --method int8`), never trained: `fit` refuses
MADE_NOT_TRAINED = {"onnx-int8", "torch-int8"}


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


def _fitted(name: str, schema, X, y, Xv, yv, events: list[str] | None = None):  # noqa: ANN001, ANN202
    """`name` fitted on the split (the int8 runtimes quantize a small fitted mlp)."""
    callbacks = [lambda event, info: events.append(event)] if events is not None else []
    data = FitData(schema, X, y, Xv, yv, seed=0, threads=1)
    if name == "catch_all":
        if schema.task != "multiclass":
            pytest.skip("catch-all routing needs a multiclass label")
        model = get_family("catch_all")(get_family("linear")(), catch_all=0)
    elif name in MADE_NOT_TRAINED:
        parent = get_family("mlp")(hidden_sizes=[32], max_epochs=4).fit(data)
        kind = get_family(name)
        model = kind.from_parent(parent, X.head(64), **(
            {"scheme": "dynamic"} if name == "onnx-int8" else {}))
        from lathe.errors import UsageError

        with pytest.raises(UsageError, match="not trained|made by"):
            kind().fit(data)
        return model
    else:
        model = _build(name)
    fitted = model.fit(data, callbacks)
    assert fitted is model
    return model


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
    events: list[str] = []
    model = _fitted(name, schema, X, y, Xv, yv, events)
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
    if name in MADE_NOT_TRAINED:  # an int8 graph keeps no importance of its own
        assert importance == {}
    else:
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
REFITS = {"gbm", "gbm+counts", "linear", "mlp", "text", "ensemble", "voting", "stacking",
          "catch_all"}


@pytest.mark.parametrize("name", FAMILIES)
def test_refit_is_a_new_model_on_every_row_and_leaves_the_first_alone(
        name: str, task_data) -> None:  # noqa: ANN001
    schema, (X, y), (Xv, yv), (Xt, yt) = task_data
    model = _fitted(name, schema, X, y, Xv, yv)
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


# ---- declared parameters (every registered family, wrappers and int8 runtimes included) ----
def _registered() -> list[str]:
    from lathe.models import _LOAD_ONLY, _MODULES
    from lathe.models import FAMILIES as REGISTRY

    for name in [*_MODULES, *_LOAD_ONLY]:
        get_family(name)
    return REGISTRY.names()


def test_the_suite_knows_every_registered_family() -> None:
    """A family registered without being added here would escape the contract."""
    assert set(_registered()) == set(EVERY_FAMILY)


EVERY_FAMILY = ["catch_all", "ensemble", "gbm", "linear", "mlp", "onnx-int8", "stacking",
                "text", "torch-int8", "voting"]


def _mistyped(annotation: object) -> object:
    """A value no declared type accepts except `object`/Any ones."""
    return object()


@pytest.mark.parametrize("name", EVERY_FAMILY)
def test_every_family_declares_its_parameters(name: str) -> None:
    from lathe.errors import ConfigError

    family = get_family(name)
    declared = family.param_types
    assert declared is not None, f"{name} declares no param_types"
    assert set(family.default_params()) <= set(declared)
    # the defaults are of the declared types: passing them back is accepted
    defaults = family.default_params()
    assert family(**defaults).params == {**defaults}
    # an unknown key: named, with a close match and the allowed keys
    if declared:
        key = max(sorted(declared), key=len)
        typo = key[:-1] + ("x" if key[-1] != "x" else "y")
        with pytest.raises(ConfigError) as err:
            family(**{typo: 1})
        message = str(err.value)
        assert repr(typo) in message and f"did you mean {key!r}" in message
        assert all(k in message for k in declared), message
        assert err.value.details["field"] == typo
        # a value of the wrong type: named, with the allowed keys
        with pytest.raises(ConfigError) as err:
            family(**{key: _mistyped(declared[key])})
        assert f"parameter {key} must be" in str(err.value)
        assert err.value.details["field"] == key
    else:
        with pytest.raises(ConfigError, match="unknown ensemble parameter 'n_estimators'"):
            family(n_estimators=3)


@pytest.mark.parametrize(("name", "params", "fragment"), [
    ("gbm", {"num_leafs": 31}, "did you mean 'num_leaves'"),
    ("gbm", {"value_counts": "yes"}, "value_counts must be true or false, got 'yes'"),
    ("gbm", {"n_estimators": 2.5}, "n_estimators must be a whole number, got 2.5"),
    ("gbm", {"learning_rate": True}, "learning_rate must be a number, got True"),
    ("linear", {"C": "strong"}, "C must be 'auto' or a number, got 'strong'"),
    ("linear", {"nb_weighting": "yes"}, "nb_weighting must be one of 'auto', 'pair' or true"),
    ("text", {"mode": "finetun"}, "did you mean 'finetune'"),
    ("mlp", {"hidden_sizes": [64, "wide"]}, "hidden_sizes must be a list of whole numbers"),
    ("voting", {"weights": "equal"}, "weights must be 'auto' or a list of numbers or None"),
    ("stacking", {"folds": "5"}, "folds must be a whole number, got '5'"),
    ("catch_all", {"abstain_rate": "3%"}, "abstain_rate must be a number"),
    ("onnx-int8", {"per_channel": "yes"}, "per_channel must be true or false"),
])
def test_wrong_parameters_are_named(name: str, params: dict, fragment: str) -> None:
    from lathe.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(fragment)):
        get_family(name)(**params)


def test_values_that_are_right_in_another_spelling_are_accepted() -> None:
    gbm = get_family("gbm")
    assert gbm(num_leaves=np.int64(15), learning_rate=np.float32(0.1),
               max_cat_to_onehot=64).params["max_cat_to_onehot"] == 64  # a LightGBM parameter
    assert get_family("mlp")(hidden_sizes=(64, 32), lr=1).params["hidden_sizes"] == (64, 32)
    assert get_family("linear")(C=20, nb_weighting=False).params["C"] == 20
