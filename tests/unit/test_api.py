"""lathe.api's functions on a small frame: train, save, load, evaluate, predict, check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe import api
from lathe.errors import DataError, NotFound, UsageError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 240
    out = pd.DataFrame({"x": rng.normal(size=n), "k": rng.choice(["u", "v"], n)})
    out["y"] = np.where(out.x + (out.k == "u") > 0.5, "pos", "neg")
    return out


@pytest.fixture(scope="module")
def saved(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = api.train(frame, target="y", model="linear", threads=1, seed=0)
    return model.save(tmp_path_factory.mktemp("api") / "m")


def test_train_needs_a_target(frame: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="no target column given"):
        api.train(frame, model="linear")


def test_train_overrides_the_config_and_keeps_the_callers_frame(frame: pd.DataFrame) -> None:
    before = frame.copy()
    model = api.train(frame, target="y", model="linear", threads=1, seed=5, refit=False)
    pd.testing.assert_frame_equal(frame, before)
    cfg = model.manifest["config"]
    assert (cfg["train"]["seed"], cfg["train"]["refit"], cfg["train"]["model"]) == (5, False,
                                                                                   "linear")
    assert model.manifest["lineage"]["dataset"] == "DataFrame"


def test_load_evaluate_and_predict_a_saved_model(saved: Path, frame: pd.DataFrame) -> None:
    model = api.load(saved)
    assert model.path == saved and model.classes == ["neg", "pos"]
    metrics = api.evaluate(saved, frame)
    assert metrics["n_rows"] == len(frame) and metrics.accuracy > 0.8
    assert metrics["primary_metric"] == "roc_auc" and metrics["model_size_bytes"] > 0
    scored = api.predict(saved, frame.drop(columns=["y"]), proba=True)
    assert list(scored.columns) == ["x", "k", "prediction", "proba_neg", "proba_pos"]
    assert np.allclose(scored["proba_neg"] + scored["proba_pos"], 1.0)
    assert (scored["prediction"] == model.predict(frame)).all()


def test_evaluate_needs_labels_and_load_a_model(saved: Path, frame: pd.DataFrame,
                                                tmp_path: Path) -> None:
    with pytest.raises(DataError, match="has no label column 'y'"):
        api.evaluate(saved, frame.drop(columns=["y"]))
    with pytest.raises(NotFound):
        api.load(tmp_path / "nothing-here")


def test_check_reports_on_the_frame(frame: pd.DataFrame) -> None:
    report = api.check(frame.assign(leak=frame["y"]), "y")
    assert any("leak" in finding.message for finding in report.findings)
