"""One shape for every verb (issue #20 item 4, #19 item 14): the Python API takes rows as a
dict, a list of dicts or a DataFrame, its errors name API parameters, and each verb that
makes something returns a result with `.save(out)`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.errors import Conflict, UsageError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    return pd.DataFrame({"age": rng.integers(18, 80, size=n), "x": x,
                         "city": rng.choice(["oslo", "rome"], size=n),
                         "y": np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no")})


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> lathe.Model:
    return lathe.train(frame, target="y", model="linear")


def test_predict_takes_a_dict_a_list_of_dicts_or_a_frame(model: lathe.Model,
                                                         frame: pd.DataFrame) -> None:
    rows = frame.drop(columns=["y"]).head(3)
    records = rows.to_dict("records")
    expected = model.predict(rows)
    assert list(model.predict(records)) == list(expected)
    assert list(model.predict(records[0])) == [expected[0]]
    proba = model.predict_proba(records[1])
    assert list(proba.columns) == ["no", "yes"] and len(proba) == 1
    assert proba.iloc[0].tolist() == pytest.approx(model.predict_proba(rows).iloc[1].tolist())
    assert model.explain(records).shape[0] == 3
    with pytest.raises(UsageError, match="list of dicts"):
        model.predict([1, 2])


def test_api_errors_name_the_api_parameter(frame: pd.DataFrame) -> None:
    with pytest.raises(UsageError) as caught:
        lathe.train(frame)
    assert "target=" in str(caught.value) and "--target" not in str(caught.value)
    with pytest.raises(UsageError) as caught:
        lathe.tune(frame)
    assert "target=" in str(caught.value) and "--target" not in str(caught.value)


def test_predict_strict_and_out(model: lathe.Model, frame: pd.DataFrame,
                                tmp_path: Path) -> None:
    rows = frame.drop(columns=["y"]).head(5).assign(extra=1)
    scored = lathe.predict(model, rows, out=tmp_path / "p.jsonl")
    assert "prediction" in scored and any("extra" in w for w in scored.attrs["warnings"])
    assert len(pd.read_json(tmp_path / "p.jsonl", lines=True)) == 5
    with pytest.raises(lathe.SchemaMismatch) as caught:
        lathe.predict(model, rows, strict=True)
    assert "strict=False" in str(caught.value)


def test_train_out_saves_names_and_refuses_an_existing_artifact(frame: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "churn"
    fitted = lathe.train(frame, target="y", model="linear", out=out)
    assert fitted.path == out and json.loads((out / "manifest.json").read_text())["name"] == "churn"
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(Conflict, match="already holds an artifact") as caught:
        lathe.train(frame, target="y", model="linear", out=out)
    assert "force=True" in str(caught.value)
    assert (out / "manifest.json").read_bytes() == before
    lathe.train(frame, target="y", model="linear", out=out, force=True, name="other")
    assert json.loads((out / "manifest.json").read_text())["name"] == "other"


def test_default_out() -> None:
    assert lathe.api.default_out("data/churn.csv") == Path("models/churn")
    assert lathe.api.default_out("data/churn.csv", name="c2") == Path("models/c2")
    assert lathe.api.default_out("churn@champion", suffix="-int8") == Path("models/churn-champion-int8")


def test_explain_and_compress_return_results_that_save(model: lathe.Model, frame: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    explanation = lathe.explain(model, frame, rows=2)
    payload = explanation.to_dict()
    assert len(payload["rows"]) == 2 and set(payload["global_importance"]) >= {"age", "x"}
    assert explanation.save(tmp_path / "e.html").read_text().startswith("<!DOCTYPE html>")

    parent = model.save(tmp_path / "parent")
    result = lathe.compress(parent, "distill", data=frame)
    assert result["artifact"] is None and result["table"]  # measured, not yet saved
    path = result.save(tmp_path / "child")
    assert result["artifact"] == str(path) and lathe.load(path).manifest["compression"]
    with pytest.raises(Conflict):
        result.save(tmp_path / "child", force=False)


def test_register_returns_the_version(model: lathe.Model, tmp_path: Path) -> None:
    path = model.save(tmp_path / "m")
    store = f"sqlite:///{tmp_path}/reg.db"
    assert lathe.register(path, "churn", store=store).ref == "churn:1"
    assert lathe.register(path, "churn", store=store).ref == "churn:1"  # same artifact
