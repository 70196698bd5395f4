"""The linear family's fast path gives what its pandas pipeline gives: missing and unseen
categories (which the encoder treats differently), missing numbers, booleans, binary,
multiclass and regression; text keeps the general path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.serving.predictor import Predictor

EXAMPLES = lathe.__file__.rsplit("/src/", 1)[0] + "/examples/data"


def _both(model) -> tuple[Predictor, Predictor]:
    return Predictor("m", "v", model, native=False), Predictor("m", "v", model)


def _agree(model, rows: list[dict]) -> None:
    general, native = _both(model)
    assert native.native is not None, "the linear model should compile to the fast path"
    np.testing.assert_allclose(native.predict_raw(native.prepare(rows)),
                               general.predict_raw(general.prepare(rows)), rtol=0, atol=1e-10)
    for row in rows[:20]:  # one row at a time, as single requests arrive
        np.testing.assert_allclose(native.predict_raw(native.prepare([row])),
                                   general.predict_raw(general.prepare([row])),
                                   rtol=0, atol=1e-10)


def _json_rows(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.fixture(scope="module")
def adult_linear():
    frame = pd.read_csv(f"{EXAMPLES}/adult.csv").head(4000)
    return lathe.train(frame, target="income", model="linear", seed=0)


def test_adult_rows_with_missing_unseen_and_infrequent_values(adult_linear) -> None:
    holdout = pd.read_csv(f"{EXAMPLES}/adult_holdout.csv").drop(columns=["income"]).head(300)
    rows = _json_rows(holdout)
    edited = []
    for i, row in enumerate(rows[:60]):
        row = dict(row)
        if i % 4 == 0:
            row["workclass"] = None  # missing: a fitted "missing" category here
        if i % 4 == 1:
            row["native_country"] = "Atlantis"  # unseen: the infrequent bucket
        if i % 4 == 2:
            row["age"] = None  # a missing number: the median and its indicator
        if i % 4 == 3:
            row["occupation"] = "Armed-Forces"  # a rare, infrequent category
        edited.append(row)
    _agree(adult_linear, rows + edited)


def _synthetic(task: str, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "x": rng.normal(size=n),
        "z": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "flag": rng.random(n) < 0.3,
        "city": rng.choice(["oslo", "rome", "lima", "kyiv"], size=n),
        "plan": rng.choice(["a", "b"], size=n),
    })
    signal = frame.x + (frame.city == "rome") - frame.flag
    if task == "regression":
        frame["y"] = signal + rng.normal(scale=0.1, size=n)
    else:
        frame["y"] = pd.cut(signal, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"])
        frame["y"] = frame["y"].astype(str)
    return frame


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_multiclass_and_regression_with_booleans(task) -> None:
    frame = _synthetic(task)
    model = lathe.train(frame.iloc[:500], target="y", model="linear", seed=0)
    rows = _json_rows(frame.iloc[500:].drop(columns=["y"]))
    rows[0]["city"], rows[1]["plan"], rows[2]["z"] = "paris", None, None
    _agree(model, rows)


def test_text_models_keep_the_general_path(banking) -> None:
    model = lathe.train(banking.head(800), target="category", model="linear", seed=0)
    assert model.family.matrix_path() is None
    assert Predictor("m", "v", model).native is None
