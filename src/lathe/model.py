"""The loaded model: a trained family with its schema and manifest, and its metrics.

`Model` is what `lathe.train` returns and `lathe.load` reads back. It lives low in the
house (below the registry, serving, tuning and compression, above the families and the
evaluation maths) so that everything that handles a trained model can import it without
importing the API or any training code.

>>> Metrics({"accuracy": 0.9}).accuracy
0.9
>>> import lathe  # doctest: +SKIP
>>> model = Model.load("demo-output/adult")  # doctest: +SKIP
>>> model.predict("examples/data/adult_new.csv")[:3]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from lathe import __version__
from lathe.artifact import read_manifest, verify, write_artifact
from lathe.data.infer import encode_labels
from lathe.data.load import read_table
from lathe.data.schema import ConformReport, Schema
from lathe.errors import DataError, SchemaMismatch, UsageError
from lathe.evaluation.metrics import primary_metric
from lathe.models import ModelFamily, get_family

__all__ = ["Model", "Metrics", "DataLike", "RowsLike", "read_data", "source_name", "dir_size"]

DataLike: TypeAlias = str | os.PathLike[str] | pd.DataFrame
RowsLike: TypeAlias = DataLike | dict[str, Any] | list[dict[str, Any]]
Sections: TypeAlias = Callable[[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray],
                               dict[str, Any]]


class Metrics(dict[str, Any]):
    """Evaluation results: a dict (JSON-ready) whose keys also read as attributes.

    >>> Metrics({"accuracy": 0.9}).accuracy
    0.9
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def summary(self) -> dict[str, Any]:
        """Scalar metrics only (no matrices or tables)."""
        return {k: v for k, v in self.items() if isinstance(v, (int, float, str)) or v is None}


def source_name(data: RowsLike) -> str:
    if isinstance(data, pd.DataFrame):
        return "DataFrame"
    if isinstance(data, dict):
        return "row"
    if isinstance(data, list):
        return "rows"
    return str(data)


def read_data(data: RowsLike, encoding: str | None = None) -> pd.DataFrame:
    """A frame from a file path, a DataFrame, one row as a dict or rows as a list of dicts.

    >>> read_data({"age": 30, "city": "Oslo"}).to_dict("records")
    [{'age': 30, 'city': 'Oslo'}]
    >>> len(read_data([{"age": 30}, {"age": 41}]))
    2
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame([data])
    if isinstance(data, list):
        if not data or not all(isinstance(row, dict) for row in data):
            raise UsageError("rows must be a non-empty list of dicts (column -> value)",
                             hint="pass a dict, a list of dicts, a DataFrame or a file path")
        return pd.DataFrame(data)
    if not isinstance(data, (str, os.PathLike)):
        raise UsageError(f"cannot read rows from a {type(data).__name__}",
                         hint="pass a dict, a list of dicts, a DataFrame or a file path")
    return read_table(data, encoding=encoding)


def dir_size(path: Path) -> int:
    """Bytes of an artifact's files, without the training-row hashes (lineage, not model)."""
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and p.relative_to(path).parts[:1] != ("lineage",))


class Model:
    """A trained model with its schema; save it as an artifact, load it back, predict."""

    def __init__(
        self,
        family: ModelFamily,
        schema: Schema,
        manifest: dict[str, Any],
        path: Path | None = None,
        training_rows: np.ndarray | None = None,
    ) -> None:
        self.family = family
        self.schema = schema
        self.manifest = manifest
        self.path = path
        # sorted 64-bit hashes of the rows the model learned from (lathe.data.overlap);
        # read from the artifact on first use
        self._training_rows: np.ndarray | None | bool = (
            training_rows if training_rows is not None else False)

    @property
    def training_rows(self) -> np.ndarray | None:
        """Sorted hashes of the rows the model was fitted on; None when not recorded."""
        if self._training_rows is False:
            from lathe.data.overlap import load_hashes

            self._training_rows = load_hashes(self.path) if self.path is not None else None
        return self._training_rows  # type: ignore[return-value]

    @training_rows.setter
    def training_rows(self, hashes: np.ndarray | None) -> None:
        self._training_rows = hashes

    def training_overlap(self, X: pd.DataFrame, frame: pd.DataFrame | None = None) -> dict[str, Any]:
        """How many rows of the conformed `X` the model trained on (`lathe.data.overlap`).

        Artifacts saved before row hashes were kept fall back on the dataset hash of the
        lineage: `frame` (the labelled rows) equal to the training file means every row.
        """
        from lathe.data.overlap import overlap_report

        known = self.training_rows
        same = False
        if known is None and frame is not None:
            from lathe.data.split import content_hash

            recorded = (self.manifest.get("lineage") or {}).get("dataset_hash")
            same = bool(recorded) and content_hash(frame) == recorded
        return overlap_report(known, X, same_dataset=same)

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"<lathe.Model {self.family.name} {self.schema.task} target={self.schema.target!r}{where}>"

    @property
    def task(self) -> str:
        return self.schema.task or "regression"

    @property
    def classes(self) -> list[Any] | None:
        return self.schema.classes

    # ---- prediction ----------------------------------------------------------------------
    def _conform(
        self, data: RowsLike, strict: bool = False, encoding: str | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame, ConformReport]:
        frame = read_data(data, encoding)
        X, report = self.schema.conform(frame, source=source_name(data))
        if strict and (report.extra_columns or report.unseen_categories):
            raise SchemaMismatch(
                f"{source_name(data)}: " + "; ".join(report.warnings()),
                hint="fix the input or pass strict=False",
            )
        return frame, X, report

    def predict_raw(self, data: RowsLike) -> np.ndarray:
        _, X, _ = self._conform(data)
        return self.family.predict_raw(X)

    def predict_proba(self, data: RowsLike) -> pd.DataFrame:
        """Class probabilities, one column per class (classification only); `data` is a file
        path, a DataFrame, one row as a dict or a list of dicts."""
        if not self.schema.is_classification:
            raise UsageError("predict_proba needs a classification model; this one does regression")
        frame, X, _ = self._conform(data)
        proba = self.family.predict_raw(X)
        return pd.DataFrame(proba, columns=[str(c) for c in self.classes or []], index=frame.index)

    def predict(self, data: RowsLike) -> np.ndarray:
        """Predicted labels (the original class values) or numbers for regression."""
        raw = self.predict_raw(data)
        if not self.schema.is_classification:
            return raw
        return self.labels(raw)

    def labels(self, raw: np.ndarray) -> np.ndarray:
        """Class labels from raw probabilities: the most likely class, or for a binary model
        whose manifest has a `decision` threshold (`lathe evaluate --costs ...
        --save-threshold`), the positive class when its probability reaches the threshold."""
        classes = np.asarray(self.classes, dtype=object)
        threshold = (self.manifest.get("decision") or {}).get("threshold")
        if threshold is not None and self.task == "binary" and raw.ndim == 2:
            pos = self.schema.positive_index
            if pos is None:
                raise SchemaMismatch(f"a binary model needs two classes, not {self.classes}",
                                     hint="retrain the model; its manifest is inconsistent")
            return classes[np.where(raw[:, pos] >= float(threshold), pos, 1 - pos)]
        return classes[raw.argmax(axis=1)]

    def explain(self, data: RowsLike, *, method: str = "auto",
                background: DataLike | None = None) -> pd.DataFrame:
        """Per-row feature contributions: one row per input row, one column per feature.

        TreeSHAP for gbm (log-odds units), sampled Shapley values otherwise (probability
        units); `attrs` holds method, units, base_value and explained_class per row, so
        contributions + base value = the explained output. See `lathe.explain`.
        """
        from lathe.explain import explain_rows

        frame = read_data(data)
        reference = None if background is None else read_data(background)
        return explain_rows(self, frame, method=method, background=reference)

    def score_frame(
        self,
        data: RowsLike,
        *,
        proba: bool = False,
        strict: bool = False,
        encoding: str | None = None,
    ) -> tuple[pd.DataFrame, ConformReport]:
        """The input with `prediction` (and `proba_<class>`) columns appended."""
        frame, X, report = self._conform(data, strict=strict, encoding=encoding)
        raw = self.family.predict_raw(X)
        out = frame.copy()
        if self.schema.is_classification:
            out["prediction"] = self.labels(raw)
            if proba:
                for i, cls in enumerate(self.classes or []):
                    out[f"proba_{cls}"] = raw[:, i]
        else:
            out["prediction"] = raw
        return out, report

    # ---- evaluation ----------------------------------------------------------------------
    def evaluate(
        self,
        data: DataLike,
        *,
        report: str | os.PathLike[str] | None = None,
        encoding: str | None = None,
        sections: Sections | None = None,
    ) -> Metrics:
        """Metrics on labelled data; optionally write a self-contained HTML report.

        `sections(labelled_rows, X, y, raw)` adds sections computed from the same
        predictions (the API's slices and per-language metrics: `lathe.validation`)."""
        from lathe.evaluation.scoring import family_metrics

        frame = read_data(data, encoding)
        source = source_name(data)
        target = self.schema.target
        if target not in frame.columns:
            raise DataError(
                f"{source} has no label column {target!r} to evaluate against",
                hint=f"add the {target!r} column",
                column=target,
            )
        labelled = frame[frame[target].notna()]
        if labelled.empty:
            raise DataError(f"{source}: every row's label {target!r} is empty", column=target)
        X, _ = self.schema.conform(labelled, source=source)
        y = encode_labels(labelled[target], self.schema, source=source)
        started = time.perf_counter()
        raw = self.family.predict_raw(X)
        seconds = max(time.perf_counter() - started, 1e-9)
        metrics = Metrics(family_metrics(self.family, self.schema, y, raw))
        metrics.update(
            task=self.task,
            primary_metric=primary_metric(self.task),
            n_rows=int(len(labelled)),
            n_rows_without_label=int(len(frame) - len(labelled)),
            rows_per_second=float(len(labelled) / seconds),
            model_size_bytes=dir_size(self.path) if self.path else None,
            training_overlap=self.training_overlap(X, labelled),
        )
        privacy = self.manifest.get("privacy")
        if privacy:  # a private model says what its training spent
            metrics["privacy"] = {k: privacy.get(k) for k in (
                "epsilon", "delta", "target_epsilon", "accountant", "mechanism",
                "noise_multiplier", "max_grad_norm", "sample_rate", "epochs", "steps")}
        if sections is not None:
            metrics.update(sections(labelled, X, y, raw))
        if report is not None:
            from lathe.evaluation.report import write_report

            write_report(
                Path(report), model=self, y_true=y, raw=raw, metrics=metrics, source=source
            )
        return metrics

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        manifest = {
            k: v
            for k, v in self.manifest.items()
            # a signature covers the artifact it was made for, never a re-save or a child
            if k not in ("files", "format_version", "created_at", "signature")
        }
        manifest.update(
            lathe_version=__version__,
            family=self.family.name,
            task=self.schema.task,
            schema=self.schema.to_dict(),
            classes=self.schema.to_dict()["classes"],
        )
        manifest.setdefault("name", target.name)  # a model is known by its directory's name

        hashes = self.training_rows
        lineage = dict(manifest.get("lineage") or {})
        if hashes is not None:
            from lathe.data.overlap import HASHES_FILE, METHOD

            lineage["training_rows"] = {"distinct": int(len(hashes)), "file": HASHES_FILE,
                                        "bytes": int(hashes.nbytes), "method": METHOD}
            manifest["lineage"] = lineage

        def write_files(staging: Path) -> None:
            self.family.save(staging / "model")
            if hashes is not None:
                from lathe.data.overlap import save_hashes

                save_hashes(hashes, staging)

        self.manifest = write_artifact(target, manifest, write_files)
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, check: bool = True) -> Model:
        root = Path(path)
        manifest = verify(root) if check else read_manifest(root)
        schema = Schema.from_dict(manifest["schema"])
        family = get_family(manifest["family"]).load(root / "model", schema)
        return cls(family, schema, manifest, root)
