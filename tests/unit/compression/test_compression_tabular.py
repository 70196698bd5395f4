"""`lathe compress` on a real GBM (Adult sample): prune, distill, int8 refusal, lineage, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lathe.api import Model, load
from lathe.compression import compress
from lathe.compression.distill import Distill
from lathe.compression.prune import Prune
from lathe.data.infer import encode_labels, infer_schema
from lathe.errors import DataError, UsageError
from lathe.models import FitData
from lathe.models.gbm import GBM

FAST = {"timing_calls": (5, 2)}


@pytest.fixture(scope="module")
def adult_frame(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(2500).reset_index(drop=True)


@pytest.fixture(scope="module")
def parent_dir(adult_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GBM with deliberately many trees (a slow learning rate, no early stop)."""
    train = adult_frame.iloc[:1500]
    schema = infer_schema(train, "income")
    X, _ = schema.conform(train)
    family = GBM(n_estimators=300, learning_rate=0.05, num_leaves=15)
    family.fit(FitData(schema, X, encode_labels(train["income"], schema), threads=1))
    path = tmp_path_factory.mktemp("adult") / "parent"
    Model(family, schema, {"lineage": {"dataset": "adult.csv", "parent": None}}).save(path)
    return path


@pytest.fixture(scope="module")
def pruned(parent_dir: Path, adult_frame: pd.DataFrame) -> dict:
    return compress(parent_dir, "prune", data=adult_frame.iloc[1500:],
                    out=parent_dir.with_name("pruned"), **FAST)


def test_prune_keeps_fewer_trees_within_its_quality_bound(pruned: dict) -> None:
    settings, table = pruned["settings"], pruned["table"]
    assert settings["kind"] == "tree-prefix"
    assert settings["trees_kept"] < settings["trees_parent"] == 300
    assert table["size_bytes"]["ratio"] < 0.9
    # stated bound: within `tolerance` on the fit rows; allow 2x that on unseen rows
    assert table["roc_auc"]["delta"] >= -2 * Prune.tolerance
    assert table["accuracy"]["delta"] >= -2 * Prune.tolerance
    assert 0.8 <= pruned["agreement"] <= 1.0
    for key in ("latency_ms_p50_batch1", "latency_ms_p99_batch1", "latency_ms_p50_batch64",
                "latency_ms_p99_batch64", "rows_per_second", "accuracy", "log_loss", "f1_macro"):
        assert table[key]["parent"] > 0 and table[key]["child"] > 0, key


def test_compressed_artifact_records_lineage_and_evaluates_unchanged(
    pruned: dict, parent_dir: Path, adult_frame: pd.DataFrame
) -> None:
    from lathe.artifact import artifact_sha256

    child = load(pruned["artifact"])
    lineage = child.manifest["lineage"]
    assert lineage["parent"]["sha256"] == artifact_sha256(parent_dir)
    assert lineage["parent"]["family"] == "gbm" and lineage["dataset"] == "adult.csv"
    section = child.manifest["compression"]
    assert section["method"] == "prune" and section["table"] == json.loads(
        json.dumps(pruned["table"]))
    # the stored child metrics are what `evaluate` gives on the same evaluation rows
    held = adult_frame.iloc[1500:]
    metrics = child.evaluate(held)
    assert metrics["n_rows"] == len(held)
    assert metrics["roc_auc"] > 0.85


def test_prune_with_sparsity_keeps_exactly_that_share(parent_dir: Path,
                                                       adult_frame: pd.DataFrame) -> None:
    report = compress(parent_dir, "prune", data=adult_frame.iloc[1500:], sparsity=0.75,
                      out=parent_dir.with_name("sparse"), **FAST)
    assert report["settings"]["trees_kept"] == 75
    explicit = compress(parent_dir, "prune", data=adult_frame.iloc[1500:2200], sparsity=0.5,
                        eval_data=adult_frame.iloc[2200:], out=parent_dir.with_name("e"), **FAST)
    assert explicit["evaluation"]["rows"] == 300 and explicit["evaluation"]["fit_rows"] == 700
    with pytest.raises(UsageError, match="sparsity"):
        compress(parent_dir, "prune", data=adult_frame.iloc[1500:], sparsity=1.5,
                 out=parent_dir.with_name("bad"))


def test_distill_into_a_small_gbm_stays_within_its_bound(parent_dir: Path,
                                                         adult_frame: pd.DataFrame) -> None:
    report = compress(parent_dir, "distill", data=adult_frame.iloc[1500:],
                      out=parent_dir.with_name("student"), **FAST)
    assert report["settings"]["student"] == "gbm"
    assert report["settings"]["student_params"]["num_leaves"] < 15
    assert report["table"]["roc_auc"]["delta"] >= -Distill.max_drop["roc_auc"]
    assert load(report["artifact"]).family.name == "gbm"


def test_int8_refuses_trees_and_suggests_other_methods(parent_dir: Path,
                                                       adult_frame: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="int8") as caught:
        compress(parent_dir, "int8", data=adult_frame, out=parent_dir.with_name("int8"))
    assert "prune" in str(caught.value) and "distill" in str(caught.value)


def test_compress_needs_labelled_data_and_never_overwrites_the_parent(
    parent_dir: Path, adult_frame: pd.DataFrame
) -> None:
    with pytest.raises(UsageError, match="--data"):
        compress(parent_dir, "prune")  # the parent's lineage names no existing file
    with pytest.raises(DataError, match="income"):
        compress(parent_dir, "prune", data=adult_frame.drop(columns=["income"]),
                 out=parent_dir.with_name("x"))
    with pytest.raises(UsageError, match="parent artifact itself"):
        compress(parent_dir, "prune", data=adult_frame, out=parent_dir)


def test_cli_prints_one_json_object(parent_dir: Path, adult_frame: pd.DataFrame,
                                    tmp_path: Path) -> None:
    import typer

    from lathe.cli.compress import compress as command

    app = typer.Typer()
    app.command()(command)
    data = tmp_path / "eval.csv"
    adult_frame.iloc[1500:2000].to_csv(data, index=False)
    result = CliRunner().invoke(app, [str(parent_dir), "--method", "prune", "--data", str(data),
                                      "--sparsity", "0.5", "--out", str(tmp_path / "c"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["artifact"] == str(tmp_path / "c")
    assert payload["settings"]["trees_kept"] == 150
    assert payload["evaluation"]["rows"] == 100
