"""ONNX export of the torch families: ONNX Runtime agrees with PyTorch within 1e-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from lathe.data.infer import encode_labels, infer_schema  # noqa: E402
from lathe.models import FitData  # noqa: E402
from lathe.models._torch_onnx import choose_runtime, export_onnx, has_embedding, parity  # noqa: E402
from lathe.models.mlp import MLP  # noqa: E402
from lathe.models.text import TextModel  # noqa: E402

pytestmark = pytest.mark.text


def _fit(model, frame: pd.DataFrame, target: str, **kw):  # noqa: ANN001, ANN003, ANN202
    schema = infer_schema(frame, target, **kw)
    X, _ = schema.conform(frame)
    return model.fit(FitData(schema, X, encode_labels(frame[target], schema))), X


def test_mlp_export_matches_pytorch_on_adult(adult_small: pd.DataFrame, tmp_path: Path) -> None:
    model, X = _fit(MLP(max_epochs=2), adult_small.head(500), "income")
    path = export_onnx(model, tmp_path / "model.onnx")
    assert parity(model, path, X) < 1e-4
    choice = choose_runtime(model, path, X)
    assert choice["runtime"] in ("onnx", "torch") and choice["max_abs_diff"] < 1e-4


def test_mlp_regression_predicts_through_onnx_after_load(adult_small: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    frame = adult_small.head(400).drop(columns=["income"])
    model, X = _fit(MLP(max_epochs=2, predict_with="onnx"), frame, "hours_per_week",
                    task="regression")
    reference = model.predict_raw(X)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.onnx").exists() and model.runtime["runtime"] == "onnx"
    loaded = MLP.load(tmp_path / "m", model.schema)
    assert loaded.runtime["runtime"] == "onnx"
    np.testing.assert_allclose(loaded.predict_raw(X), reference, atol=1e-4)


def test_text_encoder_and_head_export_with_mixed_inputs(banking: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    top = banking["category"].value_counts().index[:3]
    frame = banking[banking["category"].isin(top)].head(60).reset_index(drop=True)
    frame["amount"] = np.arange(len(frame), dtype=float)
    model, X = _fit(TextModel(max_epochs=2, cache_dir=str(tmp_path / "cache")), frame, "category",
                    text_columns=["text"])
    # exported on two short sentences, checked on real rows of other lengths (dynamic axes)
    path = model.to_onnx(tmp_path / "text.onnx")
    assert parity(model, path, X) < 1e-4
    # saved with the ONNX runtime, the graph also gives the embeddings, in one pass
    rows = pd.concat([X, X.iloc[::-1]], ignore_index=True)  # > one batch of 64
    model.params["bf16"] = False  # the reference in fp32, like the graph (bf16 is ~1e-3 off)
    reference_raw, reference_embedding = model.predict_raw(rows), model.embed(rows)
    model.params["predict_with"] = "onnx"
    model.save(tmp_path / "saved")
    loaded = TextModel.load(tmp_path / "saved", model.schema)
    assert loaded.runtime["runtime"] == "onnx" and has_embedding(loaded._onnx)
    raw, embedding = loaded.predict_and_embed(rows)
    np.testing.assert_allclose(raw, reference_raw, atol=1e-4)
    np.testing.assert_allclose(embedding, reference_embedding, atol=1e-4)
