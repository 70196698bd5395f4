"""Structured pruning with a recovery fine-tune on real small torch models: an Adult mlp and a
frozen-MiniLM text model (8 Banking77 intents). Each child really has fewer parameters,
reloads with the predictions it had in memory, exports to ONNX, serves, recovers at least as
well as pruning alone on the same rows, and stays within the stated bound of its parent."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from lathe.api import Model, load  # noqa: E402
from lathe.compression import compress  # noqa: E402
from lathe.compression._base import CompressionJob  # noqa: E402
from lathe.compression._importance import select_units, unit_scores  # noqa: E402
from lathe.compression.prune import Prune  # noqa: E402
from lathe.errors import UsageError  # noqa: E402
from lathe.models.prunable import Site, shrink_sequential  # noqa: E402

FAST = {"timing_calls": (3, 1)}


# ---- the parts, on plain torch modules --------------------------------------------------
def test_shrinking_a_hidden_layer_equals_silencing_the_removed_neurons() -> None:
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.BatchNorm1d(6), torch.nn.GELU(),
                              torch.nn.Linear(6, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    seq[1].running_mean.uniform_(-1, 1)
    seq.eval()
    x = torch.randn(16, 5)
    silenced = copy.deepcopy(seq)
    with torch.no_grad():
        silenced[3].weight[:, [1, 4]] = 0.0  # neurons 1 and 4 of the first hidden layer
        expected = silenced(x)
    widths = shrink_sequential(seq, [[0, 2, 3, 5], [0, 1, 2, 3]])
    assert widths == [4, 4]
    assert seq[0].out_features == 4 and seq[1].num_features == 4 and seq[3].in_features == 4
    with torch.no_grad():
        np.testing.assert_allclose(seq(x).numpy(), expected.numpy(), atol=1e-6)


def test_a_unit_that_does_nothing_scores_zero_and_goes_first() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        net[2].weight[:, 2] = 0.0  # hidden neuron 2 reaches nothing
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    scores = unit_scores(net, [Site(net[2], 4)], [[x[:32], y[:32]], [x[32:], y[32:]]],
                         lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1],
                                                                        reduction="none"))
    assert scores[0][2] == 0.0 and (np.delete(scores[0], 2) > 0).all()
    assert select_units(scores, share=0.25) == [[0, 1, 3]]
    assert all(p.grad is None for p in net.parameters())  # weights untouched


def test_selection_never_empties_a_layer() -> None:
    keep = select_units([np.array([0.1, 0.2]), np.array([5.0, 6.0, 7.0])], share=0.99)
    assert [len(k) for k in keep] == [1, 1]


# ---- mlp ---------------------------------------------------------------------------------
def _prune(parent: Model, rows: pd.DataFrame, **job: Any) -> tuple[Model, dict[str, Any]]:
    half = len(rows) // 2
    spec = CompressionJob(rows.iloc[:half].reset_index(drop=True),
                          rows.iloc[half:].reset_index(drop=True), **job)
    return Prune().compress(parent, spec), spec.settings


@pytest.fixture(scope="module")
def mlp_pruned(mlp_parent: Path, adult: pd.DataFrame) -> dict[str, Any]:
    parent = load(mlp_parent)
    rows = adult.iloc[1500:3500].reset_index(drop=True)
    child, settings = _prune(parent, rows, kind="structured", sparsity=0.5)
    bare, bare_settings = _prune(parent, rows, kind="structured", sparsity=0.5, recover=False)
    return {"parent": parent, "child": child, "settings": settings, "bare": bare,
            "bare_settings": bare_settings, "held": rows.iloc[len(rows) // 2:]}


def test_structured_mlp_removes_half_the_hidden_neurons(mlp_pruned: dict[str, Any],
                                                        tmp_path: Path) -> None:
    settings, child = mlp_pruned["settings"], mlp_pruned["child"]
    assert settings["kind"] == "structured" and settings["hidden_sizes_parent"] == [64, 32]
    assert sum(settings["hidden_sizes"]) == 48  # 96 hidden neurons, half removed
    assert child.family.params["hidden_sizes"] == settings["hidden_sizes"]
    n_params = sum(p.numel() for p in child.family.module.net.parameters())
    assert n_params == settings["parameters"] < settings["parameters_parent"]
    assert settings["recovery"]["epochs"] >= 1 and settings["recovery"]["seconds"] > 0
    child.save(tmp_path / "child")
    again = load(tmp_path / "child")
    held = mlp_pruned["held"]
    np.testing.assert_allclose(again.predict_proba(held), child.predict_proba(held), atol=1e-6)


def test_mlp_recovery_does_not_lose_to_pruning_alone_and_stays_in_bound(
        mlp_pruned: dict[str, Any]) -> None:
    held = mlp_pruned["held"]
    parent = mlp_pruned["parent"].evaluate(held)
    recovered = mlp_pruned["child"].evaluate(held)
    bare = mlp_pruned["bare"].evaluate(held)
    assert mlp_pruned["bare_settings"]["recovery"]["epochs"] == 0
    assert recovered["log_loss"] <= bare["log_loss"] + 1e-3
    assert recovered["roc_auc"] >= parent["roc_auc"] - Prune.max_drop["roc_auc"]


def test_pruned_mlp_exports_to_onnx_with_its_smaller_layers(mlp_pruned: dict[str, Any],
                                                             tmp_path: Path) -> None:
    from lathe.models._torch_onnx import parity

    family = mlp_pruned["child"].family
    X, _ = family.schema.conform(mlp_pruned["held"])
    path = family.to_onnx(tmp_path / "model.onnx", X.head(4))
    assert parity(family, path, X) < 1e-4


def test_pipeline_report_shows_a_smaller_artifact(mlp_parent: Path, adult: pd.DataFrame) -> None:
    report = compress(mlp_parent, "prune", data=adult.iloc[1500:2500],
                      out=mlp_parent.with_name("structured"), **FAST)
    settings = report["settings"]
    # structured is the mlp default, at half its hidden neurons
    assert settings["kind"] == "structured" and settings["sparsity"] == 0.5
    assert report["table"]["size_bytes"]["ratio"] < 0.75
    assert report["table"]["roc_auc"]["delta"] >= -Prune.max_drop["roc_auc"]
    child = load(report["artifact"])
    assert child.manifest["compression"]["settings"]["hidden_sizes"] == settings["hidden_sizes"]


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(("job", "fragment"), [
    ({"sparsity": 1.0}, "--sparsity must be in [0, 1)"),
    ({"sparsity": -0.1}, "--sparsity must be in [0, 1)"),
    ({"kind": "random"}, "unknown prune kind 'random'"),
])
def test_bad_prune_options_are_usage_errors(mlp_parent: Path, adult: pd.DataFrame,
                                            job: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError) as err:
        _prune(load(mlp_parent), adult.iloc[1500:1600], **job)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_structured_pruning_of_an_mlp_without_hidden_layers_says_so(adult: pd.DataFrame) -> None:
    from lathe.data.infer import encode_labels, infer_schema
    from lathe.models import FitData
    from lathe.models.mlp import MLP

    train = adult.iloc[:300]
    schema = infer_schema(train, "income")
    X, _ = schema.conform(train)
    family = MLP(max_epochs=1, hidden_sizes=[]).fit(
        FitData(schema, X, encode_labels(train["income"], schema)))
    with pytest.raises(UsageError, match="no hidden layer") as err:
        _prune(Model(family, schema, {}), adult.iloc[300:400], kind="structured")
    assert "--kind magnitude" in err.value.hint


# ---- text --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_pruned(text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame]
                ) -> dict[str, Any]:
    pytest.importorskip("onnxruntime")
    parent = load(text_parent)
    rows = intents[1]
    child, settings = _prune(parent, rows, kind="structured")
    bare, _ = _prune(parent, rows, kind="structured", recover=False)
    return {"parent": parent, "child": child, "settings": settings, "bare": bare,
            "held": rows.iloc[len(rows) // 2:]}


@pytest.mark.text
def test_structured_text_pruning_removes_heads_and_ffn_neurons(
        text_pruned: dict[str, Any]) -> None:
    settings, child = text_pruned["settings"], text_pruned["child"]
    assert settings["kind"] == "structured" and settings["sparsity"] == 0.3
    assert settings["heads_parent"] == [12] * 6
    assert sum(settings["heads"]) == 72 - round(0.3 * 72)
    assert sum(settings["intermediate"]) == 6 * 1536 - round(0.3 * 6 * 1536)
    assert [a + r for a, r in zip(settings["heads"], settings["heads_removed_per_layer"],
                                  strict=True)] == [12] * 6
    encoder = child.family.net.encoder
    assert [layer.attention.self.query.out_features // 32 for layer in encoder.encoder.layer] \
        == settings["heads"]
    n_params = sum(p.numel() for p in child.family.net.parameters())
    assert n_params == settings["parameters"] < settings["parameters_parent"]
    assert settings["recovery"]["epochs"] >= 1 and settings["recovery"]["train_rows"] > 0


@pytest.mark.text
def test_pruned_text_model_reloads_with_its_pruned_shape_and_predictions(
        text_pruned: dict[str, Any], tmp_path: Path) -> None:
    child, held = text_pruned["child"], text_pruned["held"]
    child.save(tmp_path / "child")
    again = load(tmp_path / "child")
    layers = again.family.net.encoder.encoder.layer
    assert [layer.intermediate.dense.out_features for layer in layers] == \
        text_pruned["settings"]["intermediate"]
    np.testing.assert_allclose(again.predict_proba(held), child.predict_proba(held), atol=1e-5)


@pytest.mark.text
def test_text_recovery_does_not_lose_to_pruning_alone_and_stays_in_bound(
        text_pruned: dict[str, Any]) -> None:
    held = text_pruned["held"]
    parent = text_pruned["parent"].evaluate(held)
    recovered = text_pruned["child"].evaluate(held)
    bare = text_pruned["bare"].evaluate(held)
    assert recovered["log_loss"] <= bare["log_loss"] + 1e-3
    assert recovered["accuracy"] >= bare["accuracy"]
    # ~140 fit rows: a sanity bound; the full-data bound is bench/compression.py's
    assert recovered["accuracy"] >= parent["accuracy"] - Prune.max_drop["accuracy_small_sample"]


@pytest.mark.text
def test_pruned_text_model_exports_to_onnx_and_auto_picks_a_runtime(
        text_pruned: dict[str, Any], tmp_path: Path) -> None:
    from lathe.models._torch_onnx import parity

    child, held = text_pruned["child"], text_pruned["held"]
    family = child.family
    X, _ = family.schema.conform(held)
    assert parity(family, family.to_onnx(tmp_path / "m.onnx", X.head(4)), X) < 1e-4
    family.params["predict_with"] = "auto"  # export at save, time both runtimes, keep faster
    try:
        child.save(tmp_path / "auto")
        reference = child.predict_proba(held)  # through the runtime the save chose
    finally:
        family.params["predict_with"], family._onnx = "torch", None
    again = load(tmp_path / "auto")
    assert again.family.runtime["runtime"] in ("onnx", "torch")
    assert "onnx_rows_per_s" in again.family.runtime
    np.testing.assert_allclose(again.predict_proba(held), reference, atol=1e-5)


@pytest.mark.text
def test_pruned_text_model_serves(text_pruned: dict[str, Any], tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from lathe.serving import ServeSettings, create_app

    text_pruned["child"].save(tmp_path / "intents")
    settings = ServeSettings(models=[str(tmp_path / "intents")], reload_interval_s=0,
                             prediction_log=f"sqlite:///{tmp_path}/log.db")
    held = text_pruned["held"].head(3)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/models/intents/predict",
                               json={"rows": [{"text": t} for t in held["text"]]})
    assert response.status_code == 200, response.text
    labels = [p["label"] for p in response.json()["predictions"]]
    assert labels == text_pruned["child"].predict(held).tolist()


def test_structured_pruning_of_a_tree_model_is_a_usage_error(adult: pd.DataFrame) -> None:
    import lathe

    model = lathe.train(adult.head(600), target="income", threads=1)
    with pytest.raises(UsageError, match="gbm pruning always removes whole trees"):
        _prune(model, adult.iloc[600:800], kind="structured")
