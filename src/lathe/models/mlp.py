"""`mlp`: a PyTorch net for tabular data — embeddings for categoricals, standardised numerics
(missing values imputed with the training median), dropout, weight decay and optional L1,
early-stopped on the validation split by the shared loop (`lathe.models.torch_loop`). Text
columns enter as TF-IDF + SVD components (as in `gbm`); the `text` family is the one for text.

>>> import pandas as pd, numpy as np
>>> from lathe.data.infer import infer_schema, encode_labels
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
>>> frame["y"] = np.where(frame.x + (frame.c == "a") > 0.5, "hi", "lo")
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> model = MLP(max_epochs=5).fit(FitData(schema, X, encode_labels(frame.y, schema)))
>>> model.predict_raw(X).shape
(300, 2)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import joblib
import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.errors import MissingDependency
from lathe.models._base import FAMILIES, Callback, FitData, ModelFamily
from lathe.models._text_features import TextSVD
from lathe.models._threads import prefer_passive_openmp
from lathe.models._torch_onnx import TorchRuntime, build_output

__all__ = ["MLP", "TabularPrep", "permutation_importance", "import_torch"]


def import_torch() -> Any:
    # OpenMP threads that spin while waiting make torch ~10x slower when another process
    # shares the cores (measured with two trainings on 2 cores); must be set before import.
    prefer_passive_openmp()
    try:
        import torch
    except ImportError as err:  # pragma: no cover - the text extra is installed here
        raise MissingDependency(
            "the mlp and text families need PyTorch", hint="pip install 'lathe[text]'"
        ) from err
    return torch


class TabularPrep:
    """Non-text columns as model inputs: float32 numerics (median-imputed, standardised) and
    int64 category codes (0 = missing or unseen). Stored as plain JSON."""

    def __init__(self, schema: Schema, extra_numeric: Sequence[str] = ()) -> None:
        text = set(schema.names_of("text"))
        categorical = set(schema.names_of("categorical"))
        self.categorical = [c for c in schema.names_of("categorical")]
        self.numeric = [
            c for c in schema.model_columns() if c not in text and c not in categorical
        ] + list(extra_numeric)
        self.cardinalities = [len(schema.column(c).categories or []) + 1 for c in self.categorical]
        self.medians: list[float] = []
        self.means: list[float] = []
        self.stds: list[float] = []
        self.bounds: list[list[float]] | None = None  # DP: values clipped to public bounds

    def fit(self, X: pd.DataFrame) -> TabularPrep:
        values = X[self.numeric].to_numpy(dtype="float64") if self.numeric else np.zeros((len(X), 0))
        medians = np.nan_to_num(np.nanmedian(values, axis=0)) if len(X) and values.size else np.zeros(values.shape[1])
        filled = np.where(np.isnan(values), medians, values)
        self.medians = medians.tolist()
        self.means = filled.mean(axis=0).tolist() if len(X) else [0.0] * values.shape[1]
        stds = filled.std(axis=0) if len(X) else np.ones(values.shape[1])
        self.stds = np.where(stds > 1e-12, stds, 1.0).tolist()
        return self

    def fit_bounds(self, bounds: dict[str, tuple[float, float]]) -> TabularPrep:
        """Scale by given (DP or public) bounds instead of the data: the middle of each range
        imputes missing values and maps to 0, its ends to -1 and 1."""
        lo = np.array([bounds[c][0] for c in self.numeric], dtype="float64")
        hi = np.array([bounds[c][1] for c in self.numeric], dtype="float64")
        self.medians = self.means = ((lo + hi) / 2).tolist()
        self.stds = ((hi - lo) / 2).tolist()
        self.bounds = [lo.tolist(), hi.tolist()]
        return self

    def transform(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self.numeric:
            values = X[self.numeric].to_numpy(dtype="float64")
            if self.bounds is not None:
                values = np.clip(values, self.bounds[0], self.bounds[1])
            values = np.where(np.isnan(values), np.asarray(self.medians), values)
            numeric = ((values - np.asarray(self.means)) / np.asarray(self.stds)).astype(np.float32)
        else:
            numeric = np.zeros((len(X), 0), dtype=np.float32)
        codes = [
            np.asarray(pd.Categorical(X[c]).codes, dtype=np.int64) + 1 for c in self.categorical
        ]
        categorical = np.stack(codes, axis=1) if codes else np.zeros((len(X), 0), dtype=np.int64)
        return numeric, categorical

    def source_column(self, name: str) -> str:
        # datetime parts and text SVD components fold into their input column
        return name.split("__")[0] if "__" in name else name

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("numeric", "categorical", "cardinalities", "medians", "means", "stds", "bounds")}

    @classmethod
    def from_dict(cls, schema: Schema, data: dict[str, Any]) -> TabularPrep:
        prep = cls(schema)
        for key, value in data.items():
            setattr(prep, key, value)
        return prep


def embedding_dim(cardinality: int) -> int:
    return int(min(16, max(2, round(1.6 * cardinality**0.56))))


def build_tabular_block(torch: Any, n_numeric: int, cardinalities: list[int]) -> Any:
    nn: Any = torch.nn

    class TabularBlock(nn.Module):
        """Numeric features followed by one embedding per categorical column."""

        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.ModuleList(
                nn.Embedding(card, embedding_dim(card)) for card in cardinalities
            )
            self.out_dim = n_numeric + sum(embedding_dim(c) for c in cardinalities)

        def forward(self, numeric: Any, categorical: Any) -> Any:
            parts = [numeric] + [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
            return torch.cat(parts, dim=1)

    return TabularBlock()


def build_head(torch: Any, in_dim: int, hidden: Sequence[int], dropout: float, n_out: int) -> Any:
    nn: Any = torch.nn
    layers: list[Any] = []
    width = in_dim
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.GELU(), nn.Dropout(dropout)]
        width = int(size)
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def build_mlp_net(torch: Any, n_numeric: int, cardinalities: list[int], hidden: Sequence[int],
                  dropout: float, n_out: int) -> Any:
    nn: Any = torch.nn

    class MLPNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inputs = build_tabular_block(torch, n_numeric, cardinalities)
            self.head = build_head(torch, self.inputs.out_dim, hidden, dropout, n_out)

        def forward(self, numeric: Any, categorical: Any) -> Any:
            return self.head(self.inputs(numeric, categorical))

    return MLPNet()


def task_loss(torch: Any, task: str) -> Callable[[Any, Any, Any], Any]:
    functional = torch.nn.functional

    def loss(out: Any, y: Any, weight: Any) -> Any:
        out = out.float()
        if task == "regression":
            per_row = (out[:, 0] - y) ** 2
        else:
            per_row = functional.cross_entropy(out, y, reduction="none")
        return (per_row * weight).sum() / weight.sum()

    return loss


def permutation_importance(
    score: Callable[[list[np.ndarray]], float],
    inputs: list[np.ndarray],
    groups: dict[str, list[tuple[int, list[int]]]],
    seed: int = 0,
) -> dict[str, float]:
    """Share of the loss increase when a column's inputs are shuffled (lower score = better).

    `groups` maps an input column to the (input array, feature indices) that carry it, so a
    text column's whole embedding or a date's parts move together. Shares sum to 1.
    """
    rng = np.random.default_rng(seed)
    base = score(inputs)
    rises: dict[str, float] = {}
    n = len(inputs[0]) if inputs else 0
    for name, parts in groups.items():
        order = rng.permutation(n)
        shuffled = [a.copy() for a in inputs]
        for which, columns in parts:
            shuffled[which][:, columns] = inputs[which][order][:, columns]
        rises[name] = max(0.0, score(shuffled) - base)
    total = sum(rises.values())
    if not rises:
        return {}
    if total <= 0:
        return {k: 1.0 / len(rises) for k in rises}
    return dict(sorted(((k, v / total) for k, v in rises.items()), key=lambda kv: -kv[1]))


def tabular_groups(prep: TabularPrep, numeric_input: int, categorical_input: int
                   ) -> dict[str, list[tuple[int, list[int]]]]:
    groups: dict[str, list[tuple[int, list[int]]]] = {}
    for i, name in enumerate(prep.numeric):
        groups.setdefault(prep.source_column(name), []).append((numeric_input, [i]))
    for i, name in enumerate(prep.categorical):
        groups.setdefault(name, []).append((categorical_input, [i]))
    return groups


@FAMILIES.register("mlp")
class MLP(TorchRuntime, ModelFamily):
    name = "mlp"
    exports_onnx = True
    private_training = True
    param_types = {
        "hidden_sizes": list[int], "dropout": float, "lr": float, "weight_decay": float,
        "l1": float, "batch_size": int, "max_epochs": int, "patience": int,
        "warmup_fraction": float, "grad_clip": float | None,
        "bf16": bool | Literal["auto"] | None, "checkpoint_dir": str | None, "resume": bool,
        "predict_with": Literal["torch", "onnx", "auto"]}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "hidden_sizes": [256, 128],
            "dropout": 0.1,
            "lr": 2e-3,
            "weight_decay": 1e-4,
            "l1": 0.0,
            "batch_size": 256,
            "max_epochs": 60,
            "patience": 6,
            "warmup_fraction": 0.05,
            "grad_clip": 1.0,
            "bf16": False,
            "checkpoint_dir": None,
            "resume": False,
            "predict_with": "torch",  # "onnx", or "auto": the faster, measured when saved
        }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.prep: TabularPrep | None = None
        self.text: TextSVD | None = None  # TF-IDF + SVD components for text columns
        self.module: Any = None  # Output(MLPNet): probabilities or values
        self.y_mean, self.y_std = 0.0, 1.0
        self.importance: dict[str, float] = {}
        self.loop_summary: dict[str, Any] = {}
        self.runtime: dict[str, Any] = {"runtime": "torch"}
        self._onnx: Any = None  # OnnxPredictor when the runtime is ONNX Runtime
        self._sample: pd.DataFrame | None = None  # a few validation rows to time runtimes on

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.text.transform(X) if self.text is not None else X

    def _n_out(self, schema: Schema) -> int:
        return 1 if schema.task == "regression" else schema.n_classes

    def _build(self, torch: Any, schema: Schema) -> Any:
        assert self.prep is not None
        net = build_mlp_net(torch, len(self.prep.numeric), self.prep.cardinalities,
                            self.params["hidden_sizes"], float(self.params["dropout"]),
                            self._n_out(schema))
        return build_output(torch, net, schema.task or "regression", self.y_mean, self.y_std)

    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        torch = import_torch()
        from lathe.models.torch_loop import loop_config_from_params, seed_everything, train_loop

        schema = self.schema = data.schema
        sample = data.X_valid if data.X_valid is not None and len(data.X_valid) else data.X_train
        self._sample = sample.head(256).copy()
        task = schema.task or "regression"
        extra: list[str] = []
        if schema.names_of("text"):
            self.text = TextSVD(schema, seed=data.seed).fit(data.X_train)
            extra = [c for c in self._features(data.X_train.head(1)).columns
                     if self.text.source_column(c)]
        dp = data.extra.get("dp")
        self.prep = TabularPrep(schema, extra)
        if dp is not None:
            self.prep.fit_bounds(dp["bounds"])
        else:
            self.prep.fit(self._features(data.X_train))
        y = np.asarray(data.y_train)
        if task == "regression":
            self.y_mean, self.y_std = float(y.mean()), float(y.std() or 1.0)
        seed_everything(data.seed)
        self.module = self._build(torch, schema)
        net = self.module.net
        num, cat = self.prep.transform(self._features(data.X_train))
        target = (torch.tensor((y - self.y_mean) / self.y_std, dtype=torch.float32)
                  if task == "regression" else torch.tensor(y, dtype=torch.long))
        weight = torch.tensor(data.sample_weight if data.sample_weight is not None
                              else np.ones(len(y)), dtype=torch.float32)
        loss = task_loss(torch, task)
        valid = None
        if data.X_valid is not None and data.y_valid is not None and len(data.X_valid):
            vnum, vcat = self.prep.transform(self._features(data.X_valid))
            yv = np.asarray(data.y_valid)
            valid = (torch.tensor(vnum), torch.tensor(vcat),
                     torch.tensor((yv - self.y_mean) / self.y_std, dtype=torch.float32)
                     if task == "regression" else torch.tensor(yv, dtype=torch.long))

        def validate(module: Any) -> float:
            assert valid is not None
            device = next(module.parameters()).device
            out = module(valid[0].to(device), valid[1].to(device))
            return float(loss(out, valid[2].to(device), torch.ones(len(valid[2]), device=device)))

        config = loop_config_from_params(
            self.params, data.extra, data.seed, data.time_budget_s,
            metric_name="valid_mse" if task == "regression" else "valid_log_loss",
        )
        if dp is not None:
            from lathe.privacy.dp.sgd import train_private

            with _threads(torch, data.threads):
                self.privacy = train_private(
                    net, (torch.tensor(num), torch.tensor(cat), target),
                    lambda m, b: loss(m(b[0], b[1]), b[2], torch.ones(len(b[2]))),
                    validate=validate if valid is not None else None, **dp["sgd"])
                self.module.to("cpu").eval()
            self.learning_curve = list(self.privacy["validation_curve"])
            self.loop_summary = {"epochs_run": self.privacy["epochs"], "private": True}
            return self
        with _threads(torch, data.threads):
            result = train_loop(
                net,
                (torch.tensor(num), torch.tensor(cat), target, weight),
                lambda m, b: loss(m(b[0], b[1]), b[2], b[3]),
                validate if valid is not None else None,
                config,
                callbacks,
            )
            self.module.to("cpu").eval()
            self.learning_curve = [float(v) for v in result.curve]
            self.learning_curve_metric = config.metric_name if valid is not None else "train_loss"
            self.loop_summary = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                                 "resumed_from": result.resumed_from}
            source = valid if valid is not None else (torch.tensor(num), torch.tensor(cat), target)
            self.importance = self._importance(torch, source, loss, data.seed)
        return self

    def _importance(self, torch: Any, source: tuple[Any, ...], loss: Any, seed: int) -> dict[str, float]:
        assert self.prep is not None
        net = self.module.net
        n = min(len(source[0]), 5000)
        inputs = [source[0][:n].numpy(), source[1][:n].numpy()]
        target = source[2][:n]

        def score(arrays: list[np.ndarray]) -> float:
            with torch.no_grad():
                out = net(torch.from_numpy(arrays[0]), torch.from_numpy(arrays[1]))
                return float(loss(out, target, torch.ones(n)))

        return permutation_importance(score, inputs, tabular_groups(self.prep, 0, 1), seed)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        torch = import_torch()
        if self._onnx is not None:
            from lathe.models._torch_onnx import predict_onnx

            return predict_onnx(self, self._onnx, X)
        assert self.prep is not None and self.module is not None
        num, cat = self.prep.transform(self._features(X))
        with torch.no_grad():
            out = self.module(torch.from_numpy(num), torch.from_numpy(cat))
        return out.numpy().astype(np.float64)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runtime": self.runtime, "training": self.loop_summary}

    def save(self, directory: Path) -> None:
        torch = import_torch()
        assert self.prep is not None
        directory.mkdir(parents=True, exist_ok=True)
        self._save_runtime(directory)  # before the metadata, which records the choice
        torch.save(self.module.net.state_dict(), directory / "mlp.pt")
        self._write_meta(directory / "mlp.json")
        if self.text is not None:
            joblib.dump(self.text, directory / "text_features.joblib")

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        torch = import_torch()
        meta = json.loads((directory / "mlp.json").read_text())
        model = cls(**meta["params"])
        model.schema = schema
        model.prep = TabularPrep.from_dict(schema, meta["prep"])
        model.y_mean, model.y_std = meta["y_mean"], meta["y_std"]
        model.module = model._build(torch, schema)
        model.module.net.load_state_dict(torch.load(directory / "mlp.pt", weights_only=True))
        model.module.eval()
        model._restore_meta(directory, meta)
        if (directory / "text_features.joblib").exists():
            model.text = joblib.load(directory / "text_features.joblib")
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.4),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        }


class _threads:
    """Use `threads` torch threads inside the block (FitData.threads), restoring the old count."""

    def __init__(self, torch: Any, threads: int | None) -> None:
        self.torch, self.threads, self.before = torch, threads, torch.get_num_threads()

    def __enter__(self) -> None:
        if self.threads:
            self.torch.set_num_threads(int(self.threads))

    def __exit__(self, *exc: Any) -> None:
        self.torch.set_num_threads(self.before)
