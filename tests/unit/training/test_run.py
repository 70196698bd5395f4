"""training/run.py step by step: labelled rows, the split, catch-all checks, scoring the test
split and the manifest, on small frames (a linear model fits them in well under a second)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.config import load_config
from lathe.data.infer import infer_schema
from lathe.errors import ConfigError, DataError
from lathe.evaluation.metrics import compute_metrics
from lathe.training.run import labelled_rows, run_training


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    out = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    out["y"] = np.where(out.x + (out.c == "a") > 0.4, "hi", "lo")
    return out


def _cfg(**changes: object):  # noqa: ANN202
    return load_config(None, data__target="y", train__model="linear", train__threads=1,
                       **changes)


def test_unlabelled_rows_are_noted_and_too_few_refused(frame: pd.DataFrame) -> None:
    part = frame.head(30).copy()
    part.loc[:4, "y"] = None
    schema = infer_schema(part, "y")
    kept = labelled_rows(part, schema, "f.csv")
    assert len(kept) == 25 and "ignored 5 row(s) with no label" in schema.notes
    with pytest.raises(DataError, match="f.csv: only 25 labelled rows; lathe needs at least 40 "
                                        "to tune"):
        labelled_rows(part, infer_schema(part, "y"), "f.csv", minimum=40, purpose="tune")


def test_a_run_scores_the_test_split_before_the_refit_and_writes_the_manifest(
        frame: pd.DataFrame) -> None:
    family, schema, manifest, _ = run_training(frame, "f.csv", _cfg())
    rows = manifest["lineage"]["rows"]
    assert rows["train"] + rows["valid"] + rows["test"] == len(frame) == rows["refit"]
    test = manifest["metrics"]["test"]
    assert test["n_rows"] == rows["test"] and 0.5 < test["accuracy"] <= 1.0
    assert manifest["family"] == manifest["chosen_family"] == family.name == "linear"
    assert manifest["primary_metric"] == "roc_auc" and manifest["task"] == "binary"
    assert manifest["config"]["data"]["target"] == "y"
    assert manifest["training"]["refit"]["rows"] == len(frame)
    assert manifest["lineage"]["dataset"] == "f.csv"
    assert manifest["lineage"]["dataset_hash"].startswith("sha256:")
    assert any("refitted on all 300 labelled rows" in note for note in schema.notes)


def test_without_refit_or_a_test_split(frame: pd.DataFrame) -> None:
    family, _, manifest, _ = run_training(frame, "f", _cfg(train__refit=False,
                                                        split__test_size=0.0))
    assert manifest["metrics"] == {}
    assert manifest["training"]["refit"] == {"rows": None, "skipped": "train.refit is off"}
    assert manifest["lineage"]["rows"]["test"] == 0


def test_the_test_split_metrics_are_the_models_own(frame: pd.DataFrame) -> None:
    """Scored once, by the shared scorer, on the rows the split held out (seeded)."""
    from lathe.data.split import split_frame

    family, schema, manifest, _ = run_training(frame, "f", _cfg(train__refit=False))
    cfg = _cfg()
    _, _, test = split_frame(frame, "y", valid_size=cfg.split.valid_size,
                             test_size=cfg.split.test_size, seed=cfg.split.seed, stratify=True)
    X, _ = schema.conform(test)
    y = np.array([schema.classes.index(v) for v in test["y"]])
    expected = compute_metrics("binary", y, family.predict_raw(X), schema.classes,
                               positive=schema.positive_index)
    got = manifest["metrics"]["test"]
    assert got["roc_auc"] == pytest.approx(expected["roc_auc"])
    assert got["confusion_matrix"] == expected["confusion_matrix"]


def test_catch_all_settings_are_checked_before_fitting(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="needs a multiclass label; this one is binary"):
        run_training(frame, "f", _cfg(data__catch_all="lo"))


def test_a_catch_all_label_is_routed_and_scored(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    multi = frame.copy()
    multi["y"] = np.where(rng.random(len(multi)) < 0.1, "oos", multi["y"])
    family, schema, manifest, _ = run_training(multi, "f", _cfg())
    assert family.name == "catch_all" and family.catch_all_index() == schema.classes.index("oos")
    assert manifest["metrics"]["test"]["catch_all"]["label"] == "oos"
    assert any("is the catch-all" in note for note in schema.notes)
