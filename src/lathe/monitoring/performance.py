"""Performance over windows of consecutive rows, with delayed labels.

Windows are N consecutive rows in file order (`start` inclusive, `end` exclusive; the last
may be shorter), or, on the prediction log, spans of time (`--window 1d`: each window also
carries its `since`/`until`; see windows.py). Per window: every metric `lathe evaluate` gives, from the rows whose label
has arrived (label column present and not blank), with 95 % intervals — Wilson for accuracy,
a percentile bootstrap (200 multinomial resamples, vectorised) for the rest — and, for
classifiers, CBPE estimates of accuracy, F1 and ROC AUC from every row's calibrated
probabilities (see cbpe.py), marked `estimated_*` with their own intervals. Windows with no
labels get estimates only. A River detector over the error stream of the labelled rows says
where decay began (`change_points`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import DataError
from lathe.evaluation.metrics import compute_metrics
from lathe.monitoring.cbpe import Calibrator, estimate
from lathe.monitoring.changes import change_points
from lathe.monitoring.intervals import wilson
from lathe.monitoring.windows import Window, parse_window, window_bounds

__all__ = ["performance_windows", "labelled_mask", "bootstrap_intervals"]

RESAMPLES = 200
SKIP = ("confusion_matrix", "per_class", "calibration", "catch_all")


def labelled_mask(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Rows whose label has arrived: the column exists and the value is neither missing nor
    blank text."""
    if target not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = frame[target]
    present = values.notna().to_numpy().copy()
    if pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values):
        present &= (values.astype(str).str.strip() != "").to_numpy()
    return present


def _weighted_auc(score: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC per row of `weights` (resample counts), ties counted half."""
    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    u = np.sum(pos * (below + 0.5 * neg), axis=1)
    denom = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, u / np.where(denom > 0, denom, 1), np.nan)


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    if len(values) < RESAMPLES // 2:
        return None
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def bootstrap_intervals(task: str, y: np.ndarray, raw: np.ndarray, positive: int | None,
                        seed: int = 0) -> dict[str, list[float] | None]:
    """95 % percentile-bootstrap intervals of f1, roc_auc, log_loss (classification) or
    rmse, mae (regression), all resamples at once as multinomial row weights."""
    n = len(y)
    if n < 2:
        return {}
    w = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=RESAMPLES)
    w = w.astype(float)
    if task == "regression":
        err = np.asarray(raw, dtype=float).reshape(-1) - y
        return {"rmse_ci": _interval(np.sqrt(w @ err**2 / n)),
                "mae_ci": _interval(w @ np.abs(err) / n)}
    proba = np.clip(np.asarray(raw, dtype=float), 1e-15, 1)
    proba /= proba.sum(axis=1, keepdims=True)
    k = proba.shape[1]
    pred = proba.argmax(axis=1)
    out = {"log_loss_ci": _interval(w @ -np.log(proba[np.arange(n), y]) / n)}
    if k == 2:
        pos = 1 if positive is None else positive
        said, is_pos = pred == pos, y == pos
        tp, fp, fn = w @ (said & is_pos), w @ (said & ~is_pos), w @ (~said & is_pos)
        out["f1_ci"] = _interval(2 * tp / np.maximum(2 * tp + fp + fn, 1e-12))
        out["roc_auc_ci"] = _interval(_weighted_auc(proba[:, pos], is_pos, w))
    else:
        said, true = np.eye(k, dtype=bool)[pred], np.eye(k, dtype=bool)[y]
        tp, fp, fn = w @ (said & true), w @ (said & ~true), w @ (~said & true)
        present = (w @ true) > 0
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12), 0)
        out["f1_ci"] = _interval(np.where(present.any(axis=1), f1.mean(axis=1), np.nan))
    return out


def _realised(task: str, y: np.ndarray, raw: np.ndarray, classes: list[Any] | None,
              positive: int | None) -> dict[str, Any]:
    metrics = compute_metrics(task, y, raw, classes, positive=positive)
    out = {k: v for k, v in metrics.items() if k not in SKIP}
    if task != "regression":
        correct = int(np.sum(np.asarray(raw).argmax(axis=1) == y))
        out["accuracy_ci"] = list(wilson(correct, len(y)))
    out.update(bootstrap_intervals(task, y, raw, positive))
    return out


def performance_windows(model: Any, frame: pd.DataFrame, window: Window, *, source: str,
                        reference: pd.DataFrame | None = None, detector: str = "adwin",
                        times: np.ndarray | None = None, since: Any = None) -> dict[str, Any]:
    """The per-window report for `model` on `frame` (see the module docstring); a time
    `window` needs `times`, each row's time in order."""
    from lathe.data.infer import encode_labels

    window = parse_window(window)
    bounds = window_bounds(len(frame), window, times, since)
    if frame.empty:
        raise DataError(f"{source} has no rows", hint="pass a non-empty file")
    schema, task = model.schema, model.task
    target, positive = schema.target, getattr(schema, "positive_index", None)
    raw = np.asarray(model.predict_raw(frame))
    labelled = labelled_mask(frame, target)
    y = np.full(len(frame), -1 if task != "regression" else np.nan)
    if labelled.any():
        y[labelled] = encode_labels(frame.loc[labelled, target], schema, source=source)
    calibrator, calibration = Calibrator(), "none (regression)"
    if task != "regression":
        recorded = model.manifest.get("metrics", {})
        recorded = recorded.get("test", recorded)  # the test split's metrics
        calibrator = Calibrator.from_reliability(recorded.get("calibration"))
        if reference is not None:
            ref_mask = labelled_mask(reference, target)
            if not ref_mask.any():
                raise DataError("the --reference data has no labelled rows to calibrate on",
                                column=target)
            ref_rows = reference[ref_mask]
            calibrator = Calibrator.fit(np.asarray(model.predict_raw(ref_rows)),
                                        encode_labels(ref_rows[target], schema, source="reference"))
        calibration = calibrator.kind
    windows = []
    for start, end, span in bounds:
        part, mask = slice(start, end), labelled[start:end]
        row: dict[str, Any] = {"start": start, "end": end, "n": end - start,
                               "n_labelled": int(mask.sum()), **span}
        if mask.any():
            yw = y[part][mask].astype(int if task != "regression" else float)
            row.update(_realised(task, yw, raw[part][mask], model.classes, positive))
        elif task != "regression":
            row["accuracy"] = None
        if task != "regression":
            row.update(estimate(calibrator(raw[part]), positive=positive))
        else:
            row["estimated_accuracy"] = None
        windows.append(row)
    changes: list[dict[str, Any]] = []
    if labelled.sum() > 30:
        rows = np.flatnonzero(labelled)
        if task == "regression":
            errors = np.abs(raw.reshape(-1)[labelled] - y[labelled])
        else:
            errors = (raw[labelled].argmax(axis=1) != y[labelled]).astype(float)
        changes = change_points(errors, rows, detector)
        for change in changes:
            for row in windows:
                if row["start"] <= change["row"] < row["end"]:
                    row["alarm"] = change["row"]
    shown = window if isinstance(window, int) else f"{window.total_seconds():g}s"
    return {"source": source, "task": task, "window": shown, "rows": len(frame),
            "labelled_rows": int(labelled.sum()), "calibration": calibration,
            "detector": detector, "change_points": changes, "windows": windows}
