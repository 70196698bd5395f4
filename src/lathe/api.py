"""The Python API: thin orchestration over data, training, evaluation and the artifact.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("examples/data/adult.csv", target="income")  # doctest: +SKIP
>>> model.evaluate("holdout.csv")["roc_auc"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from lathe import __version__
from lathe.artifact import read_manifest, verify, write_artifact
from lathe.config import LatheConfig, load_config
from lathe.data.infer import encode_labels
from lathe.data.load import read_table
from lathe.data.schema import ConformReport, Schema
from lathe.errors import DataError, SchemaMismatch, UsageError
from lathe.evaluation.metrics import compute_metrics, primary_metric
from lathe.models import ModelFamily, get_family

__all__ = ["Model", "Metrics", "train", "load", "evaluate", "predict", "check"]

DataLike: TypeAlias = str | os.PathLike[str] | pd.DataFrame
Progress = Callable[[str, dict[str, Any]], None]


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


def _source_name(data: DataLike) -> str:
    return str(data) if not isinstance(data, pd.DataFrame) else "DataFrame"


def _read(data: DataLike, encoding: str | None = None) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else read_table(data, encoding=encoding)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Model:
    """A trained model with its schema; save it as an artifact, load it back, predict."""

    def __init__(
        self,
        family: ModelFamily,
        schema: Schema,
        manifest: dict[str, Any],
        path: Path | None = None,
    ) -> None:
        self.family = family
        self.schema = schema
        self.manifest = manifest
        self.path = path

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
        self, data: DataLike, strict: bool = False, encoding: str | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame, ConformReport]:
        frame = _read(data, encoding)
        X, report = self.schema.conform(frame, source=_source_name(data))
        if strict and (report.extra_columns or report.unseen_categories):
            raise SchemaMismatch(
                f"{_source_name(data)}: " + "; ".join(report.warnings()),
                hint="fix the input or drop --strict",
            )
        return frame, X, report

    def predict_raw(self, data: DataLike) -> np.ndarray:
        _, X, _ = self._conform(data)
        return self.family.predict_raw(X)

    def predict_proba(self, data: DataLike) -> pd.DataFrame:
        """Class probabilities, one column per class (classification only)."""
        if not self.schema.is_classification:
            raise UsageError("predict_proba needs a classification model; this one does regression")
        frame, X, _ = self._conform(data)
        proba = self.family.predict_raw(X)
        return pd.DataFrame(proba, columns=[str(c) for c in self.classes or []], index=frame.index)

    def predict(self, data: DataLike) -> np.ndarray:
        """Predicted labels (the original class values) or numbers for regression."""
        raw = self.predict_raw(data)
        if not self.schema.is_classification:
            return raw
        return np.asarray(self.classes, dtype=object)[raw.argmax(axis=1)]

    def explain(self, data: DataLike, *, method: str = "auto",
                background: DataLike | None = None) -> pd.DataFrame:
        """Per-row feature contributions: one row per input row, one column per feature.

        TreeSHAP for gbm (log-odds units), sampled Shapley values otherwise (probability
        units); `attrs` holds method, units, base_value and explained_class per row, so
        contributions + base value = the explained output. See `lathe.explain`.
        """
        from lathe.explain import explain_rows

        frame = _read(data)
        reference = None if background is None else _read(background)
        return explain_rows(self, frame, method=method, background=reference)

    def score_frame(
        self,
        data: DataLike,
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
            out["prediction"] = np.asarray(self.classes, dtype=object)[raw.argmax(axis=1)]
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
    ) -> Metrics:
        """Metrics on labelled data; optionally write a self-contained HTML report."""
        from lathe.models.catch_all import catch_all_index

        frame = _read(data, encoding)
        source = _source_name(data)
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
        metrics = Metrics(compute_metrics(self.task, y, raw, self.classes,
                                          catch_all_index(self.family)))
        metrics.update(
            task=self.task,
            primary_metric=primary_metric(self.task),
            n_rows=int(len(labelled)),
            n_rows_without_label=int(len(frame) - len(labelled)),
            rows_per_second=float(len(labelled) / seconds),
            model_size_bytes=_dir_size(self.path) if self.path else None,
        )
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
            if k not in ("files", "format_version", "created_at")
        }
        manifest.update(
            lathe_version=__version__,
            family=self.family.name,
            task=self.schema.task,
            schema=self.schema.to_dict(),
            classes=self.schema.to_dict()["classes"],
        )

        def write_files(staging: Path) -> None:
            self.family.save(staging / "model")

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


def _resolve_config(
    config: str | os.PathLike[str] | LatheConfig | None, **overrides: Any
) -> LatheConfig:
    if isinstance(config, LatheConfig):
        return load_config(None, base=config.model_dump(), **overrides)
    return load_config(config, **overrides)


def train(
    data: DataLike,
    target: str | None = None,
    *,
    model: str | None = None,
    preset: str | None = None,
    task: str | None = None,
    config: str | os.PathLike[str] | LatheConfig | None = None,
    time_budget_s: float | None = None,
    seed: int | None = None,
    text_columns: list[str] | None = None,
    categorical_columns: list[str] | None = None,
    drop_columns: list[str] | None = None,
    params: dict[str, Any] | None = None,
    threads: int | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    catch_all: str | None = None,
    abstain_rate: float | None = None,
    refit: bool | None = None,
) -> Model:
    """Read, infer the schema, split, fit under the preset and score the held-out test split.

    Arguments override the config file; the resolved config is stored in the manifest.
    Torch families (mlp, text) write a checkpoint per epoch to `checkpoint_dir`; with
    `resume=True` a killed run continues from it and ends with the same model.
    With a catch-all label (`catch_all`, e.g. "oos"; found by name when "auto"), rows that no
    other class explains are routed to it; `abstain_rate` is the share of in-scope validation
    rows that may be (see `lathe.models.catch_all`).
    With `refit` (the default) the model is refitted on every labelled row once the test
    split has been scored: the saved model has learned from all of them, and the manifest's
    test metrics (measured before) are a slightly pessimistic estimate of it.
    """
    cfg = _resolve_config(
        config,
        data__target=target,
        data__task=task,
        train__model=model,
        train__preset=preset,
        train__time_budget_s=time_budget_s,
        train__seed=seed,
        train__params=params,
        train__threads=threads,
        data__text_columns=text_columns,
        data__categorical_columns=categorical_columns,
        data__drop_columns=drop_columns,
        data__encoding=encoding,
        data__catch_all=catch_all,
        train__abstain_rate=abstain_rate,
        train__refit=refit,
    )
    if cfg.data.target is None:
        raise UsageError(
            "no target column given", hint="pass --target COLUMN (or data.target in lathe.yaml)"
        )
    source = _source_name(data)
    started = time.monotonic()
    frame = (
        read_table(data, encoding=cfg.data.encoding)
        if not isinstance(data, pd.DataFrame)
        else data.copy()
    )
    from lathe.training.run import run_training

    family, schema, manifest = run_training(
        frame, source, cfg, progress=progress, started=started,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir), resume=resume)
    return Model(family, schema, manifest)


def load(path: str | os.PathLike[str], *, check: bool = True) -> Model:
    """Load an artifact directory, or a registry reference NAME, NAME@alias, NAME:VERSION
    (verifying every file's hash unless check=False)."""
    from lathe.registry import resolve_model_ref

    return Model.load(resolve_model_ref(str(path)), check=check)


def evaluate(
    model: str | os.PathLike[str] | Model,
    data: DataLike,
    *,
    report: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
) -> Metrics:
    loaded = model if isinstance(model, Model) else load(model)
    return loaded.evaluate(data, report=report, encoding=encoding)


def predict(
    model: str | os.PathLike[str] | Model,
    data: DataLike,
    *,
    proba: bool = False,
    encoding: str | None = None,
) -> pd.DataFrame:
    loaded = model if isinstance(model, Model) else load(model)
    scored, _ = loaded.score_frame(data, proba=proba, encoding=encoding)
    return scored


def check(
    data: DataLike,
    target: str | None = None,
    *,
    test: DataLike | None = None,
    encoding: str | None = None,
) -> Any:
    """Data-quality report (see lathe.data.quality)."""
    from lathe.data.quality import check_table

    frame = _read(data, encoding)
    test_frame = _read(test, encoding) if test is not None else None
    return check_table(
        frame,
        target,
        test_frame=test_frame,
        source=_source_name(data),
        test_source=_source_name(test) if test is not None else None,
    )


def write_table_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write CSV/Parquet/JSONL by suffix via a temp file + rename: never half-written."""
    from lathe.data.load import table_format

    target = Path(path)
    fmt = table_format(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
