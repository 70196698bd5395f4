"""quantize_onnx on a small real graph: both schemes run in ONNX Runtime close to fp32, and
ONNX Runtime's pre-processing advice does not reach the user's terminal."""

from __future__ import annotations

import logging

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lathe.models.int8 import quantize_onnx  # noqa: E402


def _matmul_graph(path) -> np.ndarray:
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 32])],
        initializer=[numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weights


@pytest.mark.parametrize("scheme", ["dynamic", "weight-only"])
def test_quantized_graph_runs_close_to_fp32_and_says_nothing(tmp_path, caplog, scheme) -> None:
    weights = _matmul_graph(tmp_path / "fp32.onnx")
    target = quantize_onnx(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", scheme=scheme)
    x = np.random.default_rng(1).normal(size=(8, 64)).astype(np.float32)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    y = session.run(None, {"x": x})[0]
    reference = x @ weights
    assert np.abs(y - reference).max() < 0.05 * np.abs(reference).max()
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]
    # the filter is gone afterwards: the root logger still speaks
    logging.getLogger().warning("Please consider to run pre-processing: said by someone else")
    assert [r for r in caplog.records if "someone else" in r.getMessage()]
