"""The Python API: thin orchestration over data, training, evaluation and the artifact.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("examples/data/adult.csv", target="income")  # doctest: +SKIP
>>> model.evaluate("holdout.csv")["roc_auc"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from lathe import __version__
from lathe.artifact import git_commit, read_manifest, verify, write_artifact
from lathe.config import LatheConfig, load_config
from lathe.data.infer import encode_labels, infer_schema
from lathe.data.load import read_table
from lathe.data.schema import ConformReport, Schema
from lathe.data.split import content_hash, split_frame
from lathe.errors import ConfigError, DataError, SchemaMismatch, UsageError
from lathe.evaluation.metrics import compute_metrics, primary_metric
from lathe.models import FitData, ModelFamily, get_family

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


def _note_leaks(frame: pd.DataFrame, schema: Schema, source: str) -> None:
    """A column that alone predicts the label almost perfectly is usually a leak: say so loudly.

    Training goes on (the column may be legitimate); `lathe check` treats it as blocking.
    """
    from lathe.data.quality import check_table

    used = frame[[*schema.feature_names, schema.target]]
    report = check_table(used, schema.target, source=source, checks=["leakage"])
    for finding in report.findings:
        schema.notes.append(f"possible label leak: {finding.message}")


def catch_all_index(family: ModelFamily) -> int | None:
    """The class index a catch-all wrapper routes to, else None."""
    return getattr(family, "catch_all", None) if family.name == "catch_all" else None


def _catch_all_class(schema: Schema, cfg: LatheConfig) -> int | None:
    """The catch-all class index (checked before any fitting), or None."""
    from lathe.models.catch_all import detect_catch_all

    setting = cfg.data.catch_all
    if schema.task != "multiclass":
        if setting not in ("auto", "off"):
            raise ConfigError(
                f"catch_all {setting!r} needs a multiclass label; this one is {schema.task}",
                hint="drop catch_all (or set it to off)", field="data.catch_all")
        return None
    return detect_catch_all(schema.classes, setting)


def _with_catch_all(family: ModelFamily, data: FitData, cfg: LatheConfig,
                    index: int | None) -> ModelFamily:
    """Wrap the fitted model in catch-all routing when the labels have a catch-all class."""
    from lathe.models.catch_all import CatchAll

    if index is None:
        return family
    schema = data.schema
    wrapped = CatchAll(family, index, abstain_rate=cfg.train.abstain_rate).fit(data)
    label = (schema.classes or [])[index]
    calibration = wrapped.calibration
    if calibration.get("routing"):
        schema.notes.append(
            f"label {label!r} is the catch-all: rows no other class explains go to it "
            f"({cfg.train.abstain_rate:.0%} of in-scope validation rows, scored by "
            f"{' + '.join(calibration['scores'])}); set catch_all: off to turn this off")
    else:
        schema.notes.append(f"label {label!r} is the catch-all, but it is predicted only as a "
                            f"class: {calibration.get('reason', 'abstain_rate is 0')}")
    return wrapped


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
    frame.columns = [str(c) for c in frame.columns]
    schema = infer_schema(
        frame,
        cfg.data.target,
        task=cfg.data.task,
        text_columns=cfg.data.text_columns,
        categorical_columns=cfg.data.categorical_columns,
        drop_columns=cfg.data.drop_columns,
        source=source,
    )
    catch_all_class = _catch_all_class(schema, cfg)
    _note_leaks(frame, schema, source)
    unlabelled = int(frame[cfg.data.target].isna().sum())
    if unlabelled:
        schema.notes.append(f"ignored {unlabelled} row(s) with no label")
        frame = frame[frame[cfg.data.target].notna()]
    if len(frame) < 10:
        raise DataError(
            f"{source}: only {len(frame)} labelled rows; lathe needs at least 10 to train",
            hint="add more rows",
        )
    train_part, valid_part, test_part = split_frame(
        frame,
        cfg.data.target,
        valid_size=cfg.split.valid_size,
        test_size=cfg.split.test_size,
        seed=cfg.split.seed,
        stratify=schema.is_classification,
    )

    def xy(part: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        X, _ = schema.conform(part, source=source)
        return X, encode_labels(part[cfg.data.target], schema, source=source)

    X_train, y_train = xy(train_part)
    X_valid, y_valid = xy(valid_part)
    fit_data = FitData(
        schema,
        X_train,
        y_train,
        X_valid,
        y_valid,
        seed=cfg.train.seed,
        time_budget_s=cfg.train.time_budget_s,
        threads=cfg.train.threads,
        extra={"checkpoint_dir": None if checkpoint_dir is None else str(checkpoint_dir),
               "resume": resume},
    )
    from lathe.training.presets import choose_family, fit_preset, preset_budget, refit_on_all

    family_name = choose_family(schema) if cfg.train.model == "auto" else cfg.train.model
    family = fit_preset(fit_data, family_name, cfg.train.preset, cfg.train.params, progress)
    family = _with_catch_all(family, fit_data, cfg, catch_all_class)
    metrics: dict[str, Any] = {}
    if len(test_part):
        X_test, y_test = xy(test_part)
        test_metrics = compute_metrics(
            schema.task or "regression", y_test, family.predict_raw(X_test), schema.classes,
            catch_all_index(family),
        )
        test_metrics["n_rows"] = int(len(test_part))
        metrics["test"] = test_metrics
    refit_record: dict[str, Any] = {"rows": None, "skipped": "train.refit is off"}
    if cfg.train.refit:
        budget = preset_budget(family_name, cfg.train.preset, cfg.train.time_budget_s)
        X_all, y_all = xy(pd.concat([train_part, valid_part, test_part]))
        left = None if budget is None else budget - (time.monotonic() - started)
        family, refit_record = refit_on_all(
            family, replace(fit_data, X_train=X_all, y_train=y_all), left, progress)
        if refit_record["rows"]:
            what = "refitted"
            if refit_record.get("members_kept"):
                done = refit_record["members_refitted"]
                total = done + refit_record["members_kept"]
                what = (f"refitted {done} of {total} ensemble members (the others' refit "
                        "would not fit the time budget, or their family cannot refit)")
            schema.notes.append(
                f"{what} on all {refit_record['rows']} labelled rows after the test split "
                "was scored: the test metrics are those of the model before the refit")
    fit_seconds = time.monotonic() - started
    manifest = {
        "lathe_version": __version__,
        "family": family.name,
        "chosen_family": family_name,
        "task": schema.task,
        "target": schema.target,
        "config": cfg.model_dump(mode="json"),
        "model": family.describe(),
        "metrics": metrics,
        "primary_metric": primary_metric(schema.task or "regression"),
        "feature_importance": family.feature_importance(),
        "learning_curve": {"metric": family.learning_curve_metric, "values": family.learning_curve},
        "lineage": {
            "dataset": source,
            "dataset_hash": content_hash(frame),
            "rows": {"train": len(train_part), "valid": len(valid_part), "test": len(test_part),
                     "refit": refit_record["rows"]},
            "parent": None,
            "git_commit": git_commit(),
        },
        "training": {
            "seconds": round(fit_seconds, 3),
            "refit": refit_record,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }
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
