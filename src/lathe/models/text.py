"""`text`: a pretrained sentence encoder (all-MiniLM-L6-v2 by default) with a trained head.

Two modes:
  * `frozen` — mean-pooled embeddings, computed once per dataset (cached on disk by content
    hash, see `_encoder.cached_embeddings`), feed a linear or small MLP head;
  * `finetune` — encoder and head trained end to end (optionally with the lower
    `freeze_layers` layers frozen), early-stopped on the validation split.
Both train through the shared loop (`lathe.models.torch_loop`: warm-up + decay, clipping, bf16
autocast on CPU, checkpoints every epoch so `resume=True` continues a killed run).
Other columns (numbers, categories, dates) are standardised / embedded and joined with the
text embeddings in the head, so one CSV of mixed columns trains one model.

>>> import pandas as pd
>>> from lathe.data.infer import infer_schema, encode_labels
>>> frame = pd.DataFrame({"text": ["great hotel, lovely staff", "dirty room and rude staff"] * 20,
...                       "label": ["pos", "neg"] * 20})
>>> schema = infer_schema(frame, "label", text_columns=["text"]); X, _ = schema.conform(frame)
>>> model = TextModel(max_epochs=10).fit(FitData(schema, X, encode_labels(frame.label, schema)))
>>> model.predict_raw(X[:2]).argmax(1).tolist()
[1, 0]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.models import _encoder
from lathe.models._base import FAMILIES, Callback, FitData, ModelFamily
from lathe.models._text_net import (
    build_text_net,
    embedding_scale,
    estimate_fit_seconds,
    freeze_encoder,
    linear_probe,
    trim_padding,
)
from lathe.models._torch_onnx import TorchRuntime
from lathe.models.mlp import (
    TabularPrep,
    _threads,
    import_torch,
    permutation_importance,
    tabular_groups,
    task_loss,
)

__all__ = ["TextModel", "PRESET_PARAMS", "FINETUNE_MEMBER", "embedding_scale"]

MODES = ("frozen", "finetune")
# Per-mode defaults for parameters left at None.
_MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    # frozen: a strong L2 on the head (Banking77 valid-tuned: 0.01 -> 0.908, 0.5 -> 0.917,
    # 2.0 -> 0.911 held-out accuracy)
    "frozen": {"lr": 3e-3, "batch_size": 128, "max_epochs": 40, "patience": 5,
               "hidden_sizes": [], "warmup_fraction": 0.05, "weight_decay": 0.5},
    "finetune": {"lr": 1e-4, "batch_size": 32, "max_epochs": 5, "patience": 2,
                 "hidden_sizes": [], "warmup_fraction": 0.1, "weight_decay": 0.01},
}
PRESET_PARAMS: dict[str, dict[str, Any]] = {
    # Banking77 held-out accuracy (bench/text_quality.py, 2 cores): the frozen encoder with a
    # linear head 0.917 in ~20 s; a 512-unit head 0.919. Fine-tuning did not pay here:
    # 3 epochs 0.9165 (126 s), 10 epochs with early stopping 0.899 (600 s). So both presets
    # keep the encoder frozen; `mode: finetune` stays available for data where it helps.
    "fast": {"mode": "frozen"},
    "best": {"mode": "frozen", "hidden_sizes": [512], "dropout": 0.5},
}
"""What `--preset fast|best` should pass to the text family (see bench/text_quality.py)."""
FINETUNE_MEMBER: dict[str, Any] = {"mode": "finetune", "max_epochs": 3, "lr": 5e-5}
# encoder lr 5e-5 rather than the mode's 1e-4 (Banking77 bench split, 3 epochs, 7,201 rows):
# alone 0.9185 -> 0.923 held-out accuracy, in the blend with the frozen model and TF-IDF
# 0.9225 -> 0.9275
"""The fine-tuned encoder `--preset best` adds to its blend when the budget allows."""


@FAMILIES.register("text")
class TextModel(TorchRuntime, ModelFamily):
    name = "text"
    exports_onnx = True
    param_types = {
        "mode": Literal["frozen", "finetune"], "encoder": str | None, "max_length": int,
        "bf16": bool | Literal["auto"] | None, "cache_dir": str | None,
        "hidden_sizes": list[int] | None, "dropout": float, "lr": float | None,
        "head_lr": float, "weight_decay": float | None, "batch_size": int | None,
        "max_epochs": int | None, "patience": int | None, "warmup_fraction": float | None,
        "grad_clip": float | None, "freeze_layers": int, "encoder_layers": int | None,
        "probe_first": bool, "freeze_embeddings": bool,
        "early_stopping_metric": Literal["loss", "accuracy"], "checkpoint_dir": str | None,
        "resume": bool, "predict_with": Literal["torch", "onnx", "auto"],
        "predict_batch_size": int}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "mode": "frozen",
            "encoder": None,  # None = the bundled all-MiniLM-L6-v2; else a local HF directory
            "max_length": 128,
            # bf16 autocast for the encoder: "auto" = where the hardware has native bf16 (~3x
            # faster on AVX-512-bf16 CPUs, 6x slower where it is emulated, e.g. AVX2 only)
            "bf16": "auto",
            "cache_dir": None,  # frozen embeddings; None = $LATHE_CACHE_DIR or ~/.cache/lathe
            "hidden_sizes": None,  # [] = linear (logistic) head
            "dropout": 0.1,
            "lr": None,
            "head_lr": 1e-3,  # finetune: the head (probed first) moves faster than the encoder
            "weight_decay": None,
            "batch_size": None,
            "max_epochs": None,
            "patience": None,
            "warmup_fraction": None,
            "grad_clip": 1.0,
            "freeze_layers": 0,
            "encoder_layers": None,  # keep only the first N encoder layers (a smaller student)
            "probe_first": True,  # finetune: fit the head on frozen embeddings first (LP-FT)
            # the 30k x 384 word-embedding table is half the encoder; freezing it makes each
            # fine-tuning step about 3x cheaper in the optimizer (measured) at no visible cost
            "freeze_embeddings": True,
            "early_stopping_metric": "loss",  # or "accuracy" (classification)
            "checkpoint_dir": None,
            "resume": False,
            "predict_with": "torch",  # "onnx", or "auto": the faster, measured when saved
            "predict_batch_size": 64,
        }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # checks the declared types (mode: one of MODES)
        self.prep: TabularPrep | None = None
        self.tokenizer: Any = None
        self.encoder_path: Path | None = None
        self.net: Any = None
        self.y_mean, self.y_std = 0.0, 1.0
        self.importance: dict[str, float] = {}
        self.loop_summary: dict[str, Any] = {}
        self.runtime: dict[str, Any] = {"runtime": "torch"}
        self._onnx: Any = None  # OnnxPredictor when the runtime is ONNX Runtime
        self._sample: pd.DataFrame | None = None  # a few validation rows to time runtimes on
        self._lock = threading.Lock()  # HF fast tokenizers are not safe to call concurrently

    def resolved(self) -> dict[str, Any]:
        out = dict(self.params)
        for key, value in _MODE_DEFAULTS[out["mode"]].items():
            if out.get(key) is None:
                out[key] = value
        return out

    # ---- inputs ----------------------------------------------------------------------------
    @property
    def text_columns(self) -> list[str]:
        return self.schema.names_of("text") if self.schema is not None else []

    def _tokenize(self, texts: Sequence[str], pad_to_longest: bool = True) -> tuple[Any, Any]:
        with self._lock:
            batch = self.tokenizer([str(t) for t in texts], padding=pad_to_longest,
                                   truncation=True, max_length=int(self.params["max_length"]),
                                   return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]

    def _embeddings(self, X: pd.DataFrame, cached: bool) -> list[np.ndarray]:
        out = []
        for col in self.text_columns:
            texts = X[col].tolist()
            if cached:
                out.append(_encoder.cached_embeddings(
                    texts, Path(str(self.encoder_path)), self.tokenizer, self.net.encoder,
                    directory=self.params["cache_dir"], max_length=int(self.params["max_length"]),
                    bf16=self.params["bf16"]))
            else:
                out.append(_encoder.embed_texts(
                    texts, self.tokenizer, self.net.encoder, lock=self._lock,
                    batch_size=int(self.params["predict_batch_size"]),
                    max_length=int(self.params["max_length"]), bf16=self.params["bf16"]))
        return out

    # ---- fitting ---------------------------------------------------------------------------
    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        torch = import_torch()
        from lathe.models.torch_loop import (
            loop_config_from_params,
            resolve_bf16,
            seed_everything,
            train_loop,
        )

        p = self.resolved()
        bf16 = resolve_bf16(p["bf16"])
        schema = self.schema = data.schema
        sample = data.X_valid if data.X_valid is not None and len(data.X_valid) else data.X_train
        self._sample = sample.head(256).copy()
        task = schema.task or "regression"
        self.prep = TabularPrep(schema).fit(data.X_train)
        y = np.asarray(data.y_train)
        if task == "regression":
            self.y_mean, self.y_std = float(y.mean()), float(y.std() or 1.0)
        seed_everything(data.seed)
        encoder = None
        if self.text_columns:
            self.encoder_path = _encoder.resolve_encoder(p["encoder"])
            self.tokenizer, encoder = _encoder.load_encoder(self.encoder_path)
            if p["encoder_layers"]:
                encoder = _encoder.truncate_layers(encoder, int(p["encoder_layers"]))
        n_out = 1 if task == "regression" else schema.n_classes
        self.net = build_text_net(torch, encoder, len(self.text_columns), self.prep,
                                  p["hidden_sizes"], float(p["dropout"]), n_out)
        loss = task_loss(torch, task)
        finetune = p["mode"] == "finetune" and encoder is not None
        has_valid = data.X_valid is not None and data.y_valid is not None and len(data.X_valid)

        def target(values: np.ndarray) -> Any:
            if task == "regression":
                return torch.tensor((values - self.y_mean) / self.y_std, dtype=torch.float32)
            return torch.tensor(values, dtype=torch.long)

        def tabular(X: pd.DataFrame) -> list[Any]:
            assert self.prep is not None
            return [torch.from_numpy(a) for a in self.prep.transform(X)]

        weight = torch.tensor(data.sample_weight if data.sample_weight is not None
                              else np.ones(len(y)), dtype=torch.float32)
        with _threads(torch, data.threads):
            # the head standardises embeddings with training statistics, in both modes
            probe = finetune and bool(p["probe_first"])
            stats_rows = data.X_train if probe or not finetune else data.X_train.head(1024)
            train_emb = self._embeddings(stats_rows, cached=True) if encoder is not None else []
            for i, emb in enumerate(train_emb):
                self.net.headnet.emb_mean[i] = torch.from_numpy(emb.mean(axis=0))
                self.net.headnet.emb_std[i] = torch.from_numpy(embedding_scale(emb))
            if probe:
                linear_probe(torch, self, data, train_emb, tabular(data.X_train), target(y),
                             weight, loss, _MODE_DEFAULTS["frozen"])
            if finetune:
                texts = [t for col in self.text_columns
                         for t in self._tokenize(data.X_train[col].tolist())]
                module, inputs = self.net, [*tabular(data.X_train), *texts]
                freeze_encoder(self.net.encoder, int(p["freeze_layers"]),
                               bool(p["freeze_embeddings"]))
                enc_params = [q for q in self.net.encoder.parameters() if q.requires_grad]
                groups = [{"params": enc_params, "lr": float(p["lr"])},
                          {"params": list(self.net.headnet.parameters()),
                           "lr": float(p["head_lr"])}]

                # longest text per row: batches of similar length pad (and compute) less
                lengths = torch.stack([t.sum(dim=1) for t in texts[1::2]]).amax(dim=0).numpy()

                def forward(m: Any, b: Sequence[Any]) -> Any:
                    text = []
                    for i in range(2, len(b), 2):
                        text += list(trim_padding(b[i], b[i + 1]))
                    return m(b[0], b[1], *text)
            else:
                for q in (self.net.encoder.parameters() if encoder is not None else []):
                    q.requires_grad_(False)
                module = self.net.headnet
                inputs = [*tabular(data.X_train), *[torch.from_numpy(e) for e in train_emb]]
                groups, lengths = None, None

                def forward(m: Any, b: Sequence[Any]) -> Any:
                    return m(*b)

            n_in = len(inputs)
            valid_inputs: list[Any] = []
            valid_y: Any = None
            if has_valid:
                assert data.X_valid is not None and data.y_valid is not None
                valid_y = target(np.asarray(data.y_valid))
                if finetune:
                    valid_inputs = [*tabular(data.X_valid), *[
                        t for col in self.text_columns
                        for t in self._tokenize(data.X_valid[col].tolist())]]
                else:
                    valid_inputs = [*tabular(data.X_valid), *[
                        torch.from_numpy(e) for e in self._embeddings(data.X_valid, True)]]
            by_accuracy = p["early_stopping_metric"] == "accuracy" and task != "regression"

            def validate(m: Any) -> float:
                outs = []
                bs = 256
                for start in range(0, len(valid_y), bs):
                    batch = [t[start:start + bs] for t in valid_inputs]
                    with torch.autocast("cpu", dtype=torch.bfloat16,
                                        enabled=finetune and bf16):
                        outs.append(forward(m, batch).float())
                out = torch.cat(outs)
                if by_accuracy:
                    return float((out.argmax(1) == valid_y).float().mean())
                return float(loss(out, valid_y, torch.ones(len(valid_y))))

            metric = ("valid_accuracy" if by_accuracy else
                      "valid_mse" if task == "regression" else "valid_log_loss")
            config = loop_config_from_params(
                p, data.extra, data.seed, data.time_budget_s, metric_name=metric,
                higher_is_better=by_accuracy and bool(has_valid), bf16=finetune and bf16,
            )
            result = train_loop(
                module, (*inputs, target(y), weight),
                lambda m, b: loss(forward(m, b[:n_in]), b[n_in], b[n_in + 1]),
                validate if has_valid else None, config, callbacks, param_groups=groups,
                lengths=lengths,
            )
            self.net.to("cpu").eval()
            self.learning_curve = [float(v) for v in result.curve]
            self.learning_curve_metric = metric if has_valid else "train_loss"
            self.loop_summary = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                                 "resumed_from": result.resumed_from,
                                 "seconds": round(result.seconds, 2)}
            X_imp = data.X_valid if has_valid else data.X_train
            y_imp = valid_y if has_valid else target(y)
            assert X_imp is not None
            self.importance = self._importance(torch, X_imp, y_imp, loss, data.seed,
                                               reuse=None if finetune else
                                               (valid_inputs if has_valid else inputs))
        return self

    def estimate_fit_seconds(self, data: FitData) -> float:
        """About how long `fit(data)` takes with these parameters, from a few optimizer steps
        timed on this machine (see `_text_net.estimate_fit_seconds`); costs seconds."""
        return estimate_fit_seconds(self.resolved(), data)

    def _importance(self, torch: Any, X: pd.DataFrame, y: Any, loss: Any, seed: int,
                    reuse: list[Any] | None) -> dict[str, float]:
        """Permutation importance at the head: a text column's embedding moves as one block."""
        assert self.prep is not None
        n = min(len(X), 2000)
        if reuse is not None:
            inputs = [t[:n].numpy() for t in reuse]
        else:
            tab = self.prep.transform(X.iloc[:n])
            inputs = [*tab, *self._embeddings(X.iloc[:n], cached=False)]
        groups = tabular_groups(self.prep, 0, 1)
        for i, col in enumerate(self.text_columns):
            groups[col] = [(2 + i, list(range(inputs[2 + i].shape[1])))]
        target = y[:n]

        def score(arrays: list[np.ndarray]) -> float:
            with torch.no_grad():
                out = self.net.headnet(*[torch.from_numpy(a) for a in arrays])
                return float(loss(out, target, torch.ones(n)))

        return permutation_importance(score, inputs, groups, seed)

    # ---- prediction ------------------------------------------------------------------------
    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        torch = import_torch()
        if self._onnx is not None:
            from lathe.models._torch_onnx import predict_onnx

            return predict_onnx(self, self._onnx, X)
        assert self.prep is not None and self.net is not None
        numeric, categorical = (torch.from_numpy(a) for a in self.prep.transform(X))
        if self.text_columns:
            embeddings = [torch.from_numpy(e) for e in self._embeddings(X, cached=False)]
        else:
            embeddings = []
        with torch.no_grad():
            out = self.net.headnet(numeric, categorical, *embeddings).float()
        if self.schema is not None and self.schema.task == "regression":
            return (out[:, 0] * self.y_std + self.y_mean).numpy().astype(np.float64)
        return torch.softmax(out, dim=1).numpy().astype(np.float64)

    @property
    def embeds(self) -> bool:
        return bool(self.text_columns)

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        """The sentence embeddings the head sees (text columns side by side), e.g. for the
        catch-all rule's typicality score."""
        if not self.text_columns:
            return super().embed(X)
        return np.hstack(self._embeddings(X, cached=False))

    def predict_and_embed(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """predict_raw and embed in one encoder pass (on ONNX Runtime when the graph outputs
        its embeddings, as graphs exported at save time do)."""
        from lathe.models._torch_onnx import has_embedding, predict_and_embed_onnx

        if self._onnx is not None and self.text_columns and has_embedding(self._onnx):
            return predict_and_embed_onnx(self, self._onnx, X,
                                          batch_size=int(self.params["predict_batch_size"]))
        torch = import_torch()
        if self._onnx is not None or not self.text_columns:
            return super().predict_and_embed(X)
        assert self.prep is not None and self.net is not None
        numeric, categorical = (torch.from_numpy(a) for a in self.prep.transform(X))
        embeddings = self._embeddings(X, cached=False)
        with torch.no_grad():
            out = self.net.headnet(numeric, categorical,
                                   *[torch.from_numpy(e) for e in embeddings]).float()
        if self.schema is not None and self.schema.task == "regression":
            raw = (out[:, 0] * self.y_std + self.y_mean).numpy().astype(np.float64)
        else:
            raw = torch.softmax(out, dim=1).numpy().astype(np.float64)
        return raw, np.hstack(embeddings)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "runtime": self.runtime, "resolved": self.resolved(), "training": self.loop_summary}

    # ---- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        torch = import_torch()
        assert self.prep is not None
        directory.mkdir(parents=True, exist_ok=True)
        self._save_runtime(directory)  # before the metadata, which records the choice
        if self.net.encoder is not None:  # the (possibly fine-tuned) encoder travels along
            self.net.encoder.save_pretrained(str(directory / "encoder"))
            self.tokenizer.save_pretrained(str(directory / "encoder"))
        torch.save(self.net.headnet.state_dict(), directory / "head.pt")
        self._write_meta(directory / "text.json")

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        torch = import_torch()
        meta = json.loads((directory / "text.json").read_text())
        model = cls(**meta["params"])
        model.schema = schema
        model.prep = TabularPrep.from_dict(schema, meta["prep"])
        model.y_mean, model.y_std = meta["y_mean"], meta["y_std"]
        encoder = None
        if (directory / "encoder").exists():
            model.encoder_path = directory / "encoder"
            model.tokenizer, encoder = _encoder.load_encoder(model.encoder_path)
        task = schema.task or "regression"
        n_out = 1 if task == "regression" else schema.n_classes
        model.net = build_text_net(torch, encoder, len(model.text_columns), model.prep,
                                   model.resolved()["hidden_sizes"],
                                   float(model.params["dropout"]), n_out)
        model.net.headnet.load_state_dict(torch.load(directory / "head.pt", weights_only=True))
        model.net.eval()
        model._restore_meta(directory, meta)
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 2e-5, 2e-4, log=True),
            "max_epochs": trial.suggest_int("max_epochs", 2, 6),
            "mode": "finetune",
        }
