"""One training run, step by step: schema -> split -> fit under the preset -> catch-all
routing -> score the test split -> refit on every labelled row -> manifest.

`lathe.train` (the API and the CLI) resolves the config and reads the file, then hands the
frame here. Each step is a small function so that a reader can follow the data.

>>> import numpy as np, pandas as pd
>>> from lathe.config import load_config
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(list("abc"), 200)})
>>> frame["y"] = np.where(frame.x + (frame.c == "a") > 0.5, "hi", "lo")
>>> cfg = load_config(None, data__target="y", train__threads=1)
>>> family, schema, manifest, seen = run_training(frame, "frame", cfg)
>>> manifest["family"], manifest["lineage"]["rows"]["refit"], sorted(manifest["metrics"])
('gbm', 200, ['test'])
>>> len(seen) <= 200  # hashes of the distinct rows the saved model learned from
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from lathe.config import LatheConfig
from lathe.data.infer import declare_positive_class, encode_labels, infer_schema
from lathe.data.profile import prediction_profile, profile_frame
from lathe.data.schema import Schema
from lathe.data.split import content_hash, split_frame
from lathe.errors import ConfigError, DataError
from lathe.evaluation.metrics import primary_metric
from lathe.evaluation.scoring import family_metrics
from lathe.manifest import Lineage, build_manifest, training_record
from lathe.models import FitData, ModelFamily

__all__ = ["run_training", "Splits", "labelled_rows"]

Progress = Callable[[str, dict[str, Any]], None]
MIN_LABELLED_ROWS = 10


@dataclass
class Splits:
    """The labelled rows of one run, split, and how to turn a part into (X, y)."""

    schema: Schema
    source: str
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def xy(self, part: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        X, _ = self.schema.conform(part, source=self.source)
        return X, encode_labels(part[self.schema.target], self.schema, source=self.source)

    @property
    def everything(self) -> pd.DataFrame:
        return pd.concat([self.train, self.valid, self.test])


def run_training(
    frame: pd.DataFrame,
    source: str,
    cfg: LatheConfig,
    *,
    progress: Progress | None = None,
    started: float | None = None,
    checkpoint_dir: str | None = None,
    resume: bool = False,
) -> tuple[ModelFamily, Schema, dict[str, Any], np.ndarray]:
    """Train on `frame` as `cfg` says; returns the fitted (maybe refitted) family, its schema,
    the manifest and the sorted hashes of the rows the returned family learned from
    (`lathe.data.overlap`). `started` (time.monotonic) is when the run began, so that reading
    the file counts against the time budget too. The manifest's `footprint` (energy, CO2, CPU
    hours; see `lathe.footprint`) covers the whole run."""
    from lathe.footprint import FootprintTracker

    tracker = FootprintTracker(cfg.footprint.region,
                               use_codecarbon=cfg.footprint.codecarbon).start()
    try:
        family, schema, manifest, seen = _run(frame, source, cfg, progress, started,
                                              checkpoint_dir, resume)
    except BaseException:
        tracker.cancel()  # no tracker thread left behind, and the error is not held up
        raise
    manifest["footprint"] = tracker.stop()
    return family, schema, manifest, seen


def _run(frame: pd.DataFrame, source: str, cfg: LatheConfig, progress: Progress | None,
         started: float | None, checkpoint_dir: str | None, resume: bool,
         ) -> tuple[ModelFamily, Schema, dict[str, Any], np.ndarray]:
    from lathe.training.presets import choose_family, fit_preset
    from lathe.training.private import prepare_private, privacy_section, private_config

    started = time.monotonic() if started is None else started
    private = private_config(cfg)  # a family that cannot be private is refused before work
    frame = frame.rename(columns=str)  # the caller's frame keeps its own column labels
    schema = infer_schema(
        frame,
        cfg.data.target,
        task=cfg.data.task,
        text_columns=cfg.data.text_columns,
        categorical_columns=cfg.data.categorical_columns,
        drop_columns=cfg.data.drop_columns,
        source=source,
    )
    declare_positive_class(schema, cfg.data.positive_class)
    catch_all_class = _catch_all_class(schema, cfg)
    _note_leaks(frame, schema, source)
    if cfg.data.refuse_pii:
        _refuse_pii(frame, schema, source)
    frame = labelled_rows(frame, schema, source)
    splits = _split(frame, schema, source, cfg)
    family_name = choose_family(schema) if cfg.train.model == "auto" else cfg.train.model
    X_train, y_train = splits.xy(splits.train)
    extra: dict[str, Any] = {"checkpoint_dir": checkpoint_dir, "resume": resume}
    if private is not None:
        extra["dp"], budget = prepare_private(private, schema, X_train, family_name)
        X_train, y_train = splits.xy(splits.train)  # the vocabularies are the private ones now
    X_valid, y_valid = splits.xy(splits.valid)
    fit_data = FitData(
        schema, X_train, y_train, X_valid, y_valid,
        seed=cfg.train.seed,
        time_budget_s=cfg.train.time_budget_s,
        threads=cfg.train.threads,
        extra=extra,
    )
    if private is not None:  # one fit: a preset's search would spend the budget per trial
        from lathe.models import get_family

        family = get_family(family_name)(**cfg.train.params).fit(
            fit_data, [progress] if progress else [])
    else:
        family = fit_preset(fit_data, family_name, cfg.train.preset, cfg.train.params,
                            progress)
    family = _with_catch_all(family, fit_data, cfg, catch_all_class)
    metrics, test_raw = _score_test(family, splits)
    refit_record: dict[str, Any] = {"rows": None, "skipped": "train.refit is off"}
    if private is not None:
        refit_record["skipped"] = "a private run fits once (a refit would spend the budget again)"
    elif cfg.train.refit:
        family, refit_record = _refit(family, fit_data, splits, family_name, cfg, started,
                                      progress)
    manifest = _manifest(family, family_name, cfg, frame, splits, metrics, refit_record,
                         time.monotonic() - started, test_raw)
    if private is not None:
        assert family.privacy is not None, f"{family_name} fitted without spending the budget"
        manifest["privacy"] = privacy_section(family.privacy, budget)
        # the drift reference is a histogram of the training rows: not published
        manifest.pop("reference_profile", None)
    return family, schema, manifest, _seen_rows(splits, refit_record)


# ---- steps ---------------------------------------------------------------------------------
def labelled_rows(frame: pd.DataFrame, schema: Schema, source: str,
                  minimum: int = MIN_LABELLED_ROWS, purpose: str = "train") -> pd.DataFrame:
    """The rows with a label (the others are noted on the schema and ignored); a DataError
    when fewer than `minimum` are left for `purpose` ("train", "tune")."""
    unlabelled = int(frame[schema.target].isna().sum())
    if unlabelled:
        schema.notes.append(f"ignored {unlabelled} row(s) with no label")
        frame = frame[frame[schema.target].notna()]
    if len(frame) < minimum:
        raise DataError(
            f"{source}: only {len(frame)} labelled rows; lathe needs at least {minimum} to "
            f"{purpose}",
            hint="add more rows",
        )
    return frame


def _split(frame: pd.DataFrame, schema: Schema, source: str, cfg: LatheConfig) -> Splits:
    train, valid, test = split_frame(
        frame,
        schema.target,
        valid_size=cfg.split.valid_size,
        test_size=cfg.split.test_size,
        seed=cfg.split.seed,
        stratify=schema.is_classification,
    )
    return Splits(schema, source, train, valid, test)


def _score_test(family: ModelFamily, splits: Splits) -> tuple[dict[str, Any], Any]:
    """Metrics on the test split (before any refit has seen it) and the model's raw output
    there (kept in the reference profile for prediction drift); ({}, None) without one."""
    if not len(splits.test):
        return {}, None
    X, y = splits.xy(splits.test)
    raw = family.predict_raw(X)
    return {"test": {**family_metrics(family, splits.schema, y, raw), "n_rows": len(X)}}, raw


def _seen_rows(splits: Splits, refit_record: dict[str, Any]) -> np.ndarray:
    """Hashes of the rows the final model learned from: every labelled row after a refit,
    else the train and validation splits (early stopping and blend weights used those)."""
    from lathe.data.overlap import row_hashes

    parts = [splits.train, splits.valid] + ([splits.test] if refit_record["rows"] else [])
    X, _ = splits.schema.conform(pd.concat(parts), source=splits.source)
    return row_hashes(X)


def _refit(family: ModelFamily, fit_data: FitData, splits: Splits, family_name: str,
           cfg: LatheConfig, started: float,
           progress: Progress | None) -> tuple[ModelFamily, dict[str, Any]]:
    """The model refitted on every labelled row with what is left of the time budget."""
    from lathe.training.presets import preset_budget, refit_on_all

    budget = preset_budget(family_name, cfg.train.preset, cfg.train.time_budget_s)
    X_all, y_all = splits.xy(splits.everything)
    left = None if budget is None else budget - (time.monotonic() - started)
    family, record = refit_on_all(family, replace(fit_data, X_train=X_all, y_train=y_all),
                                  left, progress)
    if record["rows"]:
        what = "refitted"
        if record.get("members_kept"):
            done = record["members_refitted"]
            total = done + record["members_kept"]
            what = (f"refitted {done} of {total} ensemble members (the others' refit "
                    "would not fit the time budget, or their family cannot refit)")
        splits.schema.notes.append(
            f"{what} on all {record['rows']} labelled rows after the test split "
            "was scored: the test metrics are those of the model before the refit")
    return family, record


def _manifest(family: ModelFamily, family_name: str, cfg: LatheConfig, frame: pd.DataFrame,
              splits: Splits, metrics: dict[str, Any], refit_record: dict[str, Any],
              seconds: float, test_raw: Any = None) -> dict[str, Any]:
    rows = {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test),
            "refit": refit_record["rows"]}
    return build_manifest(
        family, chosen_family=family_name, schema=splits.schema, config=cfg, metrics=metrics,
        primary_metric=primary_metric(splits.schema.task or "regression"),
        lineage=Lineage(dataset=splits.source, dataset_hash=content_hash(frame), rows=rows),
        training=training_record(seconds, refit_record),
        # the training reference for `lathe monitor drift MODEL DATA` (lathe.data.profile)
        sections={"reference_profile": _reference_profile(frame, splits.schema, test_raw)})


def _reference_profile(frame: pd.DataFrame, schema: Schema, test_raw: Any) -> dict[str, Any]:
    """The inputs' profile and, under `prediction`, the outputs' on the test split (drift of
    a model's predictions needs no training file either)."""
    profile = profile_frame(frame, exclude=tuple(c for c in (schema.target,) if c is not None))
    if test_raw is not None:
        profile["prediction"] = prediction_profile(
            test_raw, schema.classes if schema.is_classification else None)
    return profile


# ---- label leaks and the catch-all class ---------------------------------------------------
def _note_leaks(frame: pd.DataFrame, schema: Schema, source: str) -> None:
    """A column that alone predicts the label almost perfectly is usually a leak: say so loudly.

    Training goes on (the column may be legitimate); `lathe check` treats it as blocking.
    """
    from lathe.data.quality import check_table

    used = frame[[*schema.feature_names, schema.target]]
    report = check_table(used, schema.target, source=source, checks=["leakage"])
    for finding in report.findings:
        schema.notes.append(f"possible label leak: {finding.message}")


def _refuse_pii(frame: pd.DataFrame, schema: Schema, source: str, rows: int = 20_000) -> None:
    """A DataError naming the first feature column where PII is found (in up to `rows`
    rows), with the command that masks it."""
    from lathe.privacy.pii import detect

    for col in schema.feature_names:
        values = frame[col].head(rows).dropna().astype(str)
        found: dict[str, int] = {}
        hits = 0
        for value in values:
            matches = detect(value)
            hits += bool(matches)
            for m in matches:
                found[m.entity] = found.get(m.entity, 0) + 1
        if hits:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
            raise DataError(f"{source}: column {col!r} holds PII ({kinds}) in {hits} of "
                            f"{len(values)} rows checked, and data.refuse_pii is on",
                            hint=f"mask it first: lathe privacy mask {source} --out "
                                 f"masked.csv --columns {col}", column=col)


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
