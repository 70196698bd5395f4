"""The manifest: one typed builder for train and tune, and artifacts saved before it still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.artifact import read_manifest
from lathe.errors import IntegrityError
from lathe.evaluation.metrics import compute_metrics
from lathe.evaluation.scoring import score_split
from lathe.manifest import Manifest
from lathe.model import Model

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "artifacts"
ADULT_NEW = ROOT / "examples" / "data" / "adult_new.csv"


# sections added since the fixtures were saved (monitoring's drift reference, business's
# energy footprint, the name Model.save gives): a newer manifest may carry them, an older one loads without them
NEWER_SECTIONS = {"reference_profile", "footprint", "name"}


# (and misc19's lineage.training_rows, where the training-row hashes live)
NEWER_LINEAGE = {"training_rows"}


def _nested_keys(manifest: dict) -> dict[str, list[str]]:
    return {k: sorted(set(v) - NEWER_LINEAGE) for k, v in manifest.items()
            if isinstance(v, dict) and k in ("lineage", "training", "learning_curve")} | {
        "": sorted(set(manifest) - NEWER_SECTIONS)}


@pytest.mark.parametrize(("name", "rows"), [("gbm-format1", ADULT_NEW),
                                            ("catch-all-format1", None)])
def test_an_artifact_saved_before_the_builder_loads_and_predicts_the_same(
        name: str, rows: Path | None) -> None:
    rows = rows or FIXTURES / f"{name}.rows.csv"
    frame = pd.read_csv(rows).head(30 if rows != ADULT_NEW else 20)
    model = Model.load(FIXTURES / name)  # re-hashes every file, checks the manifest's types
    expected = pd.read_csv(FIXTURES / f"{name}.expected.csv")
    got = model.predict_proba(frame)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6, atol=1e-9)
    assert list(got.columns) == list(expected.columns)
    assert Manifest.check(model.manifest).family == model.family.name


def test_train_writes_the_shape_it_always_wrote(tmp_path: Path) -> None:
    """Same top-level and nested keys as an artifact saved before the builder existed."""
    import lathe

    old = read_manifest(FIXTURES / "gbm-format1")
    frame = pd.read_csv(ROOT / "examples" / "data" / "adult.csv").head(300)
    model = lathe.train(frame, target="income", model="gbm", threads=1,
                        params={"n_estimators": 15, "num_leaves": 7})
    model.save(tmp_path / "m")
    new = read_manifest(tmp_path / "m")
    assert _nested_keys(new) == _nested_keys(old)
    assert new["format_version"] == old["format_version"] == 1
    for key in ("family", "chosen_family", "task", "target", "primary_metric", "classes"):
        assert new[key] == old[key], key
    assert new["lineage"]["rows"] == old["lineage"]["rows"]
    assert set(new["metrics"]["test"]) >= set(old["metrics"]["test"])  # misc19 adds positive_class


def test_the_one_scorer_adds_catch_all_metrics_where_the_model_routes() -> None:
    model = Model.load(FIXTURES / "catch-all-format1")
    frame = pd.read_csv(FIXTURES / "catch-all-format1.rows.csv")
    schema = model.schema
    # labels for the stored rows: the routing model's own predictions are fine here, what
    # matters is that the scorer, not its caller, asks the family for its catch-all class
    y = np.array([schema.classes.index(c) for c in model.predict(frame)])
    X, _ = schema.conform(frame)
    scored = score_split(model.family, schema, X, y)
    raw = model.family.predict_raw(X)
    assert scored["catch_all"] == compute_metrics("multiclass", y, raw, schema.classes,
                                                  model.family.catch_all_index())["catch_all"]
    assert scored["catch_all"]["label"] == "oos" and scored["n_rows"] == len(frame)
    evaluated = model.evaluate(frame.assign(label=[schema.classes[i] for i in y]))
    assert evaluated["catch_all"] == scored["catch_all"]
    assert score_split(model.family, schema, X.iloc[:0], y[:0]) == {}


def test_a_field_of_the_wrong_type_is_refused_by_name(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(FIXTURES / "gbm-format1", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["lineage"]["rows"]["train"] = "many"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="manifest field 'lineage.rows.train'"):
        read_manifest(copy)


def test_sections_are_written_only_when_set_and_unknown_ones_are_kept() -> None:
    manifest = Manifest.check({"family": "gbm", "footprint_v9": {"kwh": 1.0}})
    out = manifest.to_dict()
    assert "tuning" not in out and "compression" not in out
    assert out["footprint_v9"] == {"kwh": 1.0}  # a newer lathe's section survives
    assert Manifest.check({"family": "gbm", "tuning": {"best_value": 1}}).to_dict()["tuning"]


def test_tune_and_train_write_one_shape(tmp_path: Path) -> None:
    """Both go through `build_manifest`: the tuned artifact has the trained one's fields,
    plus its `tuning` section."""
    pytest.importorskip("optuna")
    from lathe.tuning import tune

    old = read_manifest(FIXTURES / "gbm-format1")
    frame = pd.read_csv(ROOT / "examples" / "data" / "adult.csv").head(400)
    result = tune(frame, "income", trials=2, storage=f"sqlite:///{tmp_path / 's.db'}",
                  threads=1, space_overrides={"n_estimators": 15, "early_stopping_rounds": 5})
    tuned = read_manifest(result.model.save(tmp_path / "tuned"))
    assert set(tuned) - NEWER_SECTIONS == set(old) | {"tuning"}
    assert {k: v for k, v in _nested_keys(tuned).items() if k} == {
        k: v for k, v in _nested_keys(old).items() if k}
    assert tuned["primary_metric"] == "roc_auc" and tuned["tuning"]["trials"] == {"complete": 2}
