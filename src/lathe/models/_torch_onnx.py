"""ONNX export for the torch families (`mlp`, `text`) and an ONNX Runtime predictor.

The exported graph takes the model's prepared inputs and returns exactly what `predict_raw`
returns (probabilities, or values for regression): for `mlp` the standardised numerics and the
category codes; for `text` additionally `input_ids_<i>`/`attention_mask_<i>` per text column —
tokenisation stays in Python. `parity` checks ONNX Runtime against PyTorch (fp32) on real rows,
and `choose_runtime` times both and records the faster one.

>>> import pandas as pd, numpy as np, tempfile
>>> from pathlib import Path
>>> from lathe.data.infer import infer_schema, encode_labels
>>> from lathe.models.mlp import MLP
>>> from lathe.models import FitData
>>> frame = pd.DataFrame({"x": np.arange(60.0), "y": ["a"] * 30 + ["b"] * 30})
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> model = MLP(max_epochs=2).fit(FitData(schema, X, encode_labels(frame.y, schema)))
>>> path = export_onnx(model, Path(tempfile.mkdtemp()) / "model.onnx")
>>> parity(model, path, X) < 1e-4
True
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lathe.errors import MissingDependency, UsageError

__all__ = ["export_onnx", "onnx_inputs", "OnnxPredictor", "parity", "choose_runtime",
           "torch_outputs", "TorchRuntime", "build_output"]

OPSET = 17


def build_output(torch: Any, net: Any, task: str, y_mean: float, y_std: float) -> Any:
    """Wraps a net so its output is what `predict_raw` returns: probabilities or values."""
    nn: Any = torch.nn

    class Output(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, *inputs: Any) -> Any:
            out = self.net(*inputs).float()
            if task == "regression":
                return out[:, 0] * y_std + y_mean
            return torch.softmax(out, dim=1)

    return Output()


def _wrapped(model: Any, with_embedding: bool = False) -> tuple[Any, list[str]]:
    """(torch module returning predict_raw's output, its input names) for a fitted family.

    `with_embedding` (a text model with text columns; `export_onnx` checks): the module returns
    (output, embedding), the sentence embeddings `TextModel.embed` gives, from the same pass.
    """
    import torch

    task = (model.schema.task if model.schema is not None else None) or "regression"
    if model.name == "mlp":
        # eval() on the wrapper: the exporter restores the top module's mode onto every child,
        # so a wrapper left in training mode would switch dropout back on after export
        return model.module.eval(), ["numeric", "categorical"]
    if model.name == "text":
        names = ["numeric", "categorical"]
        for i in range(len(model.text_columns)):
            names += [f"input_ids_{i}", f"attention_mask_{i}"]
        if with_embedding:
            return _with_embedding(torch, model.net, build_output(
                torch, model.net.headnet, task, model.y_mean, model.y_std)).eval(), names
        net = model.net if model.text_columns else model.net.headnet
        wrapped = build_output(torch, net, task, model.y_mean, model.y_std)
        return wrapped.eval(), names
    raise UsageError(f"family {model.name!r} has no torch ONNX export",
                     hint="ONNX export here covers the mlp and text families")


def _with_embedding(torch: Any, net: Any, head_output: Any) -> Any:
    """A text net as (predict_raw output, embeddings side by side) in one encoder pass."""

    class WithEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.head_output = net, head_output

        def forward(self, numeric: Any, categorical: Any, *text: Any) -> Any:
            embeddings = [self.net.embed(text[i], text[i + 1]) for i in range(0, len(text), 2)]
            return self.head_output(numeric, categorical, *embeddings), torch.cat(embeddings, 1)

    return WithEmbedding()


def has_embedding(predictor: Any) -> bool:
    """Whether an ONNX graph (an `OnnxPredictor`) also outputs the sentence embeddings."""
    return "embedding" in getattr(predictor, "outputs", ())


def onnx_inputs(model: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The named arrays the exported graph takes, prepared from a conformed frame."""
    features = model._features(X) if model.name == "mlp" else X
    numeric, categorical = model.prep.transform(features)
    out = {"numeric": numeric, "categorical": categorical}
    if model.name == "text":
        for i, col in enumerate(model.text_columns):
            ids, mask = model._tokenize(X[col].tolist())
            out[f"input_ids_{i}"] = ids.numpy()
            out[f"attention_mask_{i}"] = mask.numpy()
    return out


def torch_outputs(model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The wrapped torch module in fp32 (no autocast) on the same inputs: the parity reference."""
    import torch

    module, names = _wrapped(model)
    with torch.no_grad():
        return module(*[torch.from_numpy(inputs[n]) for n in names]).numpy()


def export_onnx(model: Any, path: Path, example: pd.DataFrame | None = None,
                with_embedding: bool = False) -> Path:
    """Write `model` (a fitted mlp or text family) to `path` as ONNX; returns the path.

    `with_embedding`: a text model's graph gets a second output, `embedding` (what
    `TextModel.embed` returns), so routing on embeddings needs no second encoder pass; other
    models ignore it.
    """
    try:
        import torch
    except ImportError as err:  # pragma: no cover
        raise MissingDependency("ONNX export needs PyTorch", hint="pip install 'lathe[text]'") from err
    with_embedding = with_embedding and model.name == "text" and bool(model.text_columns)
    module, names = _wrapped(model, with_embedding)
    outputs = ["output", "embedding"] if with_embedding else ["output"]
    if example is None:
        sample: dict[str, Any] = {"numeric": np.zeros((2, len(model.prep.numeric)), dtype=np.float32),
                  "categorical": np.zeros((2, len(model.prep.categorical)), dtype=np.int64)}
        if model.name == "text":
            for i in range(len(model.text_columns)):
                ids, mask = model._tokenize(["an example sentence", "another one"])
                sample[f"input_ids_{i}"], sample[f"attention_mask_{i}"] = ids.numpy(), mask.numpy()
    else:
        sample = onnx_inputs(model, example)
    args = tuple(torch.from_numpy(sample[n]) for n in names)
    axes: dict[str, dict[int, str]] = {n: {0: "rows"} for n in names}
    for n in names:
        if n.startswith(("input_ids", "attention_mask")):
            axes[n] = {0: "rows", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about Python-level shape checks in transformers' attention code;
        # they are constant for every input we feed (masks always given), which parity checks
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=names, output_names=outputs,
                          dynamic_axes={**axes, **{o: {0: "rows"} for o in outputs}},
                          opset_version=OPSET, dynamo=False)
    return path


def onnx_threads_spin() -> bool:
    """ONNX Runtime's idle threads spin only where OpenMP's may (`OMP_WAIT_POLICY=ACTIVE`, or
    unset outside lathe's families): one wait policy for torch, LightGBM and ONNX Runtime."""
    return os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"


class OnnxPredictor:
    """An ONNX Runtime session over an exported family; `run` is safe from several threads."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:  # pragma: no cover
            raise MissingDependency("ONNX Runtime is not installed",
                                    hint="pip install 'lathe[onnx]'") from err
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        if not onnx_threads_spin():
            # ONNX Runtime's pool spins like OpenMP's: under contention an int8 MiniLM
            # blend took 34 ms of CPU per row spinning and 12.6 ms not (2 shared cores)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {n: inputs[n] for n in self.names}
        return np.asarray(self.session.run(["output"], feed)[0])

    def run_with_embedding(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(output, embedding) from one run of a graph exported `with_embedding`."""
        feed = {n: inputs[n] for n in self.names}
        output, embedding = self.session.run(["output", "embedding"], feed)
        return np.asarray(output), np.asarray(embedding)


def parity(model: Any, path: Path, X: pd.DataFrame) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch (fp32) on `X`."""
    inputs = onnx_inputs(model, X)
    return float(np.max(np.abs(OnnxPredictor(path).run(inputs) - torch_outputs(model, inputs))))


def choose_runtime(model: Any, path: Path, X: pd.DataFrame, repeats: int = 3) -> dict[str, Any]:
    """Time `predict_raw` through PyTorch and through ONNX Runtime on `X`; the faster wins.

    Returns {"runtime": "onnx"|"torch", "torch_rows_per_s": ..., "onnx_rows_per_s": ...,
    "max_abs_diff": ...}, which the families record next to their saved files.
    """
    predictor = OnnxPredictor(path)

    def best_of(fn: Any) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    torch_s = best_of(lambda: model.predict_raw(X))
    onnx_s = best_of(lambda: predictor.run(onnx_inputs(model, X)))
    return {
        "runtime": "onnx" if onnx_s < torch_s else "torch",
        "torch_rows_per_s": round(len(X) / torch_s, 1),
        "onnx_rows_per_s": round(len(X) / onnx_s, 1),
        "max_abs_diff": parity(model, path, X),
        "rows": len(X),
    }


def predict_onnx(model: Any, predictor: OnnxPredictor, X: pd.DataFrame,
                 batch_size: int = 64) -> np.ndarray:
    """`predict_raw` through ONNX Runtime, in batches of similar text length (little padding)."""
    return _by_length(model, X, batch_size, lambda part: (predictor.run(
        onnx_inputs(model, part)),))[0].astype(np.float64)


def predict_and_embed_onnx(model: Any, predictor: OnnxPredictor, X: pd.DataFrame,
                           batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(predict_raw, embeddings) from a graph exported `with_embedding`, one pass per batch."""
    out, embedding = _by_length(model, X, batch_size, lambda part: predictor.run_with_embedding(
        onnx_inputs(model, part)))
    return out.astype(np.float64), embedding.astype(np.float32)


def _by_length(model: Any, X: pd.DataFrame, batch_size: int,
               run: Any) -> tuple[np.ndarray, ...]:
    """`run` (a frame -> tuple of row-aligned arrays) over batches of similar text length,
    the results put back in the rows' order; one call when the rows fit in one batch."""
    if model.name != "text" or not model.text_columns or len(X) <= batch_size:
        return tuple(run(X))
    lengths = X[model.text_columns[0]].astype(str).str.len().to_numpy()
    order = np.argsort(lengths, kind="stable")
    parts = [run(X.iloc[order[start:start + batch_size]])
             for start in range(0, len(X), batch_size)]
    results = []
    for i in range(len(parts[0])):
        out = np.concatenate([p[i] for p in parts])
        result = np.empty_like(out)
        result[order] = out
        results.append(result)
    return tuple(results)


def attach_runtime(model: Any, directory: Path, sample: pd.DataFrame | None) -> dict[str, Any]:
    """Export `model.onnx` into `directory` and pick the runtime per `params["predict_with"]`.

    "onnx" always predicts through ONNX Runtime; "auto" measures both on `sample` and keeps the
    faster. The choice (with the timings) is returned for the family to record in its metadata.
    """
    mode = model.params.get("predict_with", "torch")
    # a text graph also outputs its embeddings: catch-all routing reads them in the same pass
    path = export_onnx(model, directory / "model.onnx", sample, with_embedding=True)
    if mode == "auto" and sample is not None and len(sample):
        choice = choose_runtime(model, path, sample)
    else:
        choice = {"runtime": "onnx" if mode == "onnx" else "torch"}
    return choice


class TorchRuntime:
    """What the torch families share: ONNX export, and the runtime (PyTorch or ONNX Runtime)
    chosen when the artifact is saved (`predict_with: auto` times both) and restored on load.

    A family using it keeps `params`, `prep`, `y_mean`, `y_std`, `runtime`, `importance`,
    `learning_curve(_metric)`, `loop_summary`, `_onnx` and `_sample`.
    """

    params: dict[str, Any]
    prep: Any
    y_mean: float
    y_std: float
    runtime: dict[str, Any]
    importance: dict[str, float]
    learning_curve: list[float]
    learning_curve_metric: str
    loop_summary: dict[str, Any]
    _onnx: Any
    _sample: pd.DataFrame | None

    # pruning removes neurons/heads or zeroes weights: `net_view`
    prune_unit: ClassVar[str | None] = "units"

    def net_view(self, structured: bool = False) -> Any:
        """The network as pruning sees it (`lathe.models.prunable`)."""
        from lathe.models.prunable import view_of

        return view_of(self, structured)

    def use_torch_runtime(self, timing_rows: pd.DataFrame | None = None) -> None:
        """Predict (and export on save) from the weights as they are now, not from a graph
        exported earlier: for code that changes the weights (pruning). `timing_rows` are
        what `predict_with: auto` times both runtimes on when the model is saved next."""
        self._onnx, self.runtime = None, {"runtime": "torch"}
        if timing_rows is not None:
            self._sample = timing_rows.copy()

    def to_onnx(self, path: Path, example: pd.DataFrame | None = None) -> Path:
        """Export to ONNX (inputs prepared in Python; output = predict_raw's)."""
        return export_onnx(self, path, example)

    def _save_runtime(self, directory: Path) -> None:
        if self.params.get("predict_with", "torch") == "torch":
            # a runtime chosen earlier (predict_with changed since) must not be recorded:
            # load would look for a model.onnx this save did not write
            self.runtime, self._onnx = {"runtime": "torch"}, None
            return
        self.runtime = attach_runtime(self, directory, self._sample)
        if self.runtime["runtime"] == "onnx":
            self._onnx = OnnxPredictor(directory / "model.onnx")

    def _load_runtime(self, directory: Path, meta: dict[str, Any]) -> None:
        self.runtime = meta.get("runtime", {"runtime": "torch"})
        if self.runtime["runtime"] == "onnx":
            self._onnx = OnnxPredictor(directory / "model.onnx")

    def feature_importance(self) -> dict[str, float]:
        return dict(self.importance)

    def refit(self, data: Any, callbacks: Any = ()) -> Any:
        """As many epochs as the early-stopped fit kept (its best epoch), on every row, with
        the learning-rate schedule fitted to that length; None when the fit recorded no best
        epoch or the time budget would cut the refit short."""
        from lathe.models._base import without_validation

        epochs = int(self.loop_summary.get("best_epoch", -1)) + 1
        if epochs <= 0:
            return None
        params = {**self.params, "max_epochs": epochs, "patience": epochs}
        if params.get("checkpoint_dir"):
            params["checkpoint_dir"] = str(Path(params["checkpoint_dir"]) / "refit")
        model: Any = type(self)(**params)
        model.fit(without_validation(data), callbacks)
        if int(model.loop_summary.get("epochs_run", 0)) < epochs:
            return None
        model.learning_curve = self.learning_curve  # the curve that chose the epochs
        model.learning_curve_metric = self.learning_curve_metric
        model.loop_summary = {**model.loop_summary, "first_fit": self.loop_summary}
        # permutation importance needs held-out rows: the first fit's, not the refit's own
        model.importance = dict(self.importance)
        return model

    def _write_meta(self, path: Path) -> None:
        """The JSON beside the weights: parameters, input preparation, training record."""
        import json

        path.write_text(json.dumps({
            "params": self.params,
            "prep": self.prep.to_dict(),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "importance": self.importance,
            "learning_curve": self.learning_curve,
            "learning_curve_metric": self.learning_curve_metric,
            "loop": self.loop_summary,
            "runtime": self.runtime,
        }, default=str))

    def _restore_meta(self, directory: Path, meta: dict[str, Any]) -> None:
        """What `_write_meta` wrote beyond params and prep, and the saved runtime."""
        self.importance = meta["importance"]
        self.learning_curve = meta["learning_curve"]
        self.learning_curve_metric = meta["learning_curve_metric"]
        self.loop_summary = meta.get("loop", {})
        self._load_runtime(directory, meta)
