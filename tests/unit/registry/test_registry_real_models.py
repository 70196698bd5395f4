"""The registry with real trained models: resolve refs to verified artifacts, gate on data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import lathe
from lathe import api
from lathe.errors import GateFailed, IntegrityError, NotFound
from lathe.registry import ModelRegistry, open_registry, resolve_model_ref
from lathe.registry.gates import compare_metric

ROOT = Path(__file__).resolve().parents[3]
ADULT = ROOT / "examples" / "data" / "adult.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    frame = pd.read_csv(ADULT)
    root = tmp_path_factory.mktemp("models")
    big = lathe.train(frame.head(1000), target="income", threads=1)
    small = lathe.train(frame.iloc[1000:1150], target="income", threads=1)
    holdout = root / "holdout.csv"
    frame.iloc[2000:2600].to_csv(holdout, index=False)
    return {"big": big.save(root / "big"), "small": small.save(root / "small"), "data": holdout}


def test_ref_resolves_to_a_verified_copy_that_outlives_the_source(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    source = tmp_path / "copy"
    shutil.copytree(trained["big"], source)
    store = f"sqlite:///{tmp_path}/reg/lathe.db"
    with open_registry(store) as registry:
        record = registry.register(source, name="income", note="first")
        registry.promote("income", record.version)
    assert record.family == api.load(source).family.name
    assert (
        record.metrics["test"]["roc_auc"] == api.load(source).manifest["metrics"]["test"]["roc_auc"]
    )
    expected = api.predict(source, trained["data"])["prediction"].tolist()
    shutil.rmtree(source)
    for ref in ("income", "income@champion", "income:1"):
        path = resolve_model_ref(ref, store)
        assert api.predict(path, trained["data"])["prediction"].tolist() == expected
    assert resolve_model_ref(str(trained["small"]), store) == trained["small"]  # paths pass through
    with pytest.raises(NotFound, match="no such model directory"):
        resolve_model_ref("models/nowhere", store)
    with pytest.raises(NotFound, match="did you mean 'income'"):
        resolve_model_ref("incom", store)


def test_damaged_checkout_is_rebuilt_but_damaged_blob_is_refused(
    trained: dict[str, Path], registry: ModelRegistry
) -> None:
    record = registry.register(trained["big"], name="income")
    checkout = registry.materialize(record)
    (checkout / "model" / "lightgbm.txt").write_text("garbage")
    assert api.load(registry.materialize(record)).task == "binary"  # cache rebuilt from blobs
    blob = registry.blobs.path(registry.manifest(record)["files"]["model/lightgbm.txt"]["sha256"])
    blob.write_text("garbage")
    (checkout / "model" / "lightgbm.txt").write_text("garbage")
    with pytest.raises(IntegrityError, match="income:1 file model/lightgbm.txt"):
        registry.materialize(record)


def test_gate_on_data_evaluates_both_versions(
    trained: dict[str, Path], registry: ModelRegistry
) -> None:
    scores = {
        key: api.load(trained[key]).evaluate(trained["data"])["roc_auc"] for key in ("big", "small")
    }
    better, worse = sorted(scores, key=scores.get, reverse=True)
    registry.register(trained[better], name="income")
    registry.register(trained[worse], name="income")
    registry.promote("income", 1)
    decision = compare_metric("roc_auc", candidate=scores[worse], champion=scores[better])
    if decision.passed:  # the two models happen to tie on this data
        assert registry.promote("income", 2, on=trained["data"]).gate["passed"]
        return
    with pytest.raises(GateFailed, match=f"{scores[worse]:.4f}.*{scores[better]:.4f}"):
        registry.promote("income", 2, on=trained["data"])
    change = registry.promote("income", 2, on=trained["data"], force=True, reason="test")
    assert change.gate["candidate"] == pytest.approx(scores[worse])
    assert registry.history("income")[-1].after["on"] == str(trained["data"])


def test_unknown_ref_without_a_registry_creates_nothing(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/absent/lathe.db"
    with pytest.raises(NotFound, match="no registry at"):
        resolve_model_ref("churn@champion", store)
    assert not (tmp_path / "absent").exists()
