"""`lathe monitor drift REF CUR`: open both sides, line their columns up, test every shared
column, add the model's prediction drift when a model is known, write the report.

REF/CUR are data files (CSV, TSV, JSONL, Parquet), `log:URL` (the prediction log's inputs
of the model, and of its version, see logsource.py) or, for REF, a model (its training
profile). A column in one side only is an error, except the label: with a model its target,
without one a single column present on one side only (reported as `label_ignored`).

Prediction drift is reported whenever a model is known (`--model`, or REF is a model): the
model's outputs on CUR against its outputs on REF, or, for a model REF, against the outputs
on its test split kept in the profile (artifacts trained before lathe kept them say so).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lathe.errors import DataError
from lathe.monitoring.detect import ColumnRule, DriftOptions, column_drift, detect_drift
from lathe.monitoring.drift import Sample
from lathe.monitoring.sources import FrameSource, ProfileSource, Source, open_source

__all__ = ["drift_check", "line_up_columns", "prediction_samples"]


def line_up_columns(reference: Source, current: Source, target: str | None
                    ) -> tuple[list[str], str | None]:
    """The columns to compare (current's order) and the label left out, if any."""
    ref_only = [c for c in reference.columns if c not in set(current.columns)]
    cur_only = [c for c in current.columns if c not in set(reference.columns)]
    ignored = None
    if target is not None:
        ref_only = [c for c in ref_only if c != target]
        cur_only = [c for c in cur_only if c != target]
        ignored = target
    elif len(ref_only) + len(cur_only) == 1:  # the label, present on one side only
        ignored, ref_only, cur_only = (ref_only or cur_only)[0], [], []
    if ref_only or cur_only:
        side, other, cols = ((reference, current, ref_only) if ref_only
                             else (current, reference, cur_only))
        raise DataError(
            f"column {cols[0]!r} is in {side.name} but not in {other.name}"
            + (f" (and {len(cols) - 1} more)" if len(cols) > 1 else ""),
            hint="compare files with the same columns (a label column may be missing)",
            column=cols[0])
    names = [c for c in current.columns if c != ignored]
    if not names:
        raise DataError(f"{reference.name} and {current.name} share no column to compare")
    return names, ignored if ignored in reference.columns or ignored in current.columns else None


def prediction_samples(model: Any, source: Source) -> dict[str, Sample]:
    """The model's output on a data source: its predicted class (categorical) and, for a
    binary model, the positive class's probability; regression: the predicted value."""
    from lathe.data.load import read_table

    frame = source.frame if isinstance(source, FrameSource) else read_table(source.name)
    raw = np.asarray(model.predict_raw(frame))
    if not model.schema.is_classification:
        return {"prediction": Sample.numeric(raw.reshape(-1))}
    classes = [str(c) for c in model.classes or []]
    picked = raw.argmax(axis=1)
    counts = np.bincount(picked, minlength=len(classes))
    out = {"prediction": Sample.categorical(classes, counts)}
    if len(classes) == 2:
        out[f"proba_{classes[1]}"] = Sample.numeric(raw[:, 1])
    return out


def _profile_predictions(reference: ProfileSource, wanted: dict[str, Sample]
                         ) -> dict[str, Sample] | None:
    kept = reference.profile.get("prediction")
    if not kept or not set(wanted) <= set(kept["columns"]):
        return None
    source = ProfileSource(kept, f"{reference.name}: predictions")
    return {name: source.sample(name, sample.kind)[0] for name, sample in wanted.items()}


def _prediction_drift(model: Any, reference: Source, current: Source,
                      options: DriftOptions) -> dict[str, Any]:
    if isinstance(reference, ProfileSource) and not reference.profile.get("prediction"):
        cur: dict[str, Sample] = {}  # nothing to compare with: do not predict at all
    else:
        cur = prediction_samples(model, current)
    if isinstance(reference, ProfileSource):
        found = _profile_predictions(reference, cur)
        if found is None:
            return {"skipped": "this model's training profile keeps no predictions (trained "
                               "before lathe kept them): pass its training data file as "
                               "REFERENCE for prediction drift"}
        ref = found
    else:
        ref = prediction_samples(model, reference)
    out = {}
    for name, sample in cur.items():
        kind = "numeric" if sample.kind == "numeric" else "categorical"
        out[name] = column_drift(name, kind, ref[name], sample,
                                 options.columns.get(name, ColumnRule()),
                                 options.kinds.get(kind, ColumnRule()))
    return out


def drift_check(reference: str, current: str, *, model: str | None = None,
                options: DriftOptions | None = None, target: str | None = None,
                report: str | os.PathLike[str] | None = None, store: str | None = None,
                since: Any = None, until: Any = None) -> dict[str, Any]:
    """Every shared column's drift and the dataset verdict (see `detect_drift`). A `log:URL`
    side reads the prediction log's inputs of `model` (or REFERENCE's model) since/until."""
    from lathe.monitoring.logsource import is_log_ref, log_scope
    from lathe.registry.refs import load_model

    by_reference = None if is_log_ref(reference) or Path(reference).is_file() else reference
    log: dict[str, Any] = {"since": since, "until": until}
    if is_log_ref(reference) or is_log_ref(current):
        log.update(log_scope(model or by_reference, store))
    ref_source, ref_model = open_source(reference, store=store, log=log)
    cur_source, cur_model = open_source(current, store=store, log=log)
    if cur_model is not None:
        raise DataError(f"{current} is a model; CURRENT must be data",
                        hint="pass the recent data file as CURRENT")
    loaded = load_model(model, store=store) if model else ref_model
    if loaded is not None and target is None:
        target = loaded.schema.target
    names, ignored = line_up_columns(ref_source, cur_source, target)
    result = detect_drift(ref_source, cur_source, options, columns=names)
    if ignored:
        result["label_ignored"] = ignored
        if not model and ref_model is None:
            print(f"note: column {ignored!r} is on one side only; treated as the label and "
                  "not compared", file=sys.stderr)
    if loaded is not None:
        result["prediction"] = _prediction_drift(loaded, ref_source, cur_source,
                                                 options or DriftOptions())
    if report is not None:
        from lathe.monitoring.report import write_drift_report

        write_drift_report(Path(report), result, ref_source, cur_source)
        result["report"] = str(report)
    return result
