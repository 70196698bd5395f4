"""Over-fitting and leakage at model level.

- **Gap:** the model's metrics on the rows it was trained on against the held-out DATA;
  a gap above `max_gap` (in the task's primary metric; for RMSE relative to the held-out
  RMSE) fails. The training rows are `train=` when given, else the dataset the manifest's
  lineage names, when it is still there with the same content hash.
- **Duplicates:** held-out rows that are training rows (the artifact's row hashes,
  `lathe.data.overlap`); a share above `max_duplicate_share` fails: the held-out metrics
  would overstate the model.
- The test metrics recorded at training time are reported beside DATA's for comparison.

>>> round(gap_of("roc_auc", train=0.95, held_out=0.91), 4)
0.04
>>> round(gap_of("rmse", train=2.0, held_out=2.5), 3)
0.2
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.validation._scored import Scored

if TYPE_CHECKING:
    from lathe.model import DataLike, Model

__all__ = ["overfitting_report", "gap_of", "training_frame", "DEFAULT_LIMITS"]

DEFAULT_LIMITS = {"max_gap": 0.05, "max_duplicate_share": 0.01}
MAX_TRAIN_ROWS = 20_000


def gap_of(metric: str, *, train: float, held_out: float) -> float:
    """How much better the model does on training rows (relative for error metrics)."""
    from lathe.evaluation.metrics import higher_is_better

    if higher_is_better(metric):
        return train - held_out
    return (held_out - train) / held_out if held_out else 0.0


def training_frame(model: Model, train: DataLike | None) -> tuple[Any, str | None]:
    from lathe.model import read_data

    if train is not None:
        return read_data(train), None
    lineage = model.manifest.get("lineage") or {}
    path = lineage.get("dataset")
    if not path or not Path(path).is_file():
        return None, (f"the training data {path!r} the lineage names is not here" if path
                      else "the manifest names no training dataset")
    from lathe.data.split import content_hash

    frame = read_data(path)
    if lineage.get("dataset_hash") and content_hash(frame) != lineage["dataset_hash"]:
        return None, f"{path} changed since training (its content hash differs)"
    return frame, None


def overfitting_report(model: Model, scored: Scored, *, train: DataLike | None = None,
                       limits: dict[str, float] | None = None, seed: int = 0) -> dict[str, Any]:
    """`{"overfitting": {...}, "checks": [...]}`: the gap and the duplicate check."""
    from lathe.evaluation.metrics import compute_metrics, primary_metric

    bounds = DEFAULT_LIMITS | (limits or {})
    metric = primary_metric(model.task)
    held = compute_metrics(model.task, scored.y, scored.raw, model.classes, None,
                           model.schema.positive_index)
    out: dict[str, Any] = {"metric": metric, "held_out": {metric: held.get(metric)},
                           "recorded_test": ((model.manifest.get("metrics") or {})
                                             .get("test") or {}).get(metric)}
    checks: list[dict[str, Any]] = []
    frame, why = training_frame(model, train)
    if frame is not None:
        target = model.schema.target
        frame = frame[frame[target].notna()] if target in frame.columns else frame.iloc[:0]
        if len(frame) > MAX_TRAIN_ROWS:
            frame = frame.sample(MAX_TRAIN_ROWS, random_state=seed)
        if len(frame):
            from lathe.validation._scored import score_rows

            fitted = score_rows(model, frame)
            seen = compute_metrics(model.task, fitted.y, fitted.raw, model.classes, None,
                                   model.schema.positive_index)
            out["train"] = {metric: seen.get(metric), "n": int(len(frame))}
            gaps = {}
            for name in ("accuracy", "roc_auc", "f1", "log_loss", "rmse", "mae", "r2"):
                if isinstance(seen.get(name), float) and isinstance(held.get(name), float):
                    gaps[name] = gap_of(name, train=seen[name], held_out=held[name])
            out["gaps"] = gaps
            value = gaps.get(metric)
            if value is not None and np.isfinite(value):
                ok = value <= bounds["max_gap"]
                checks.append({"name": "overfitting.gap", "passed": bool(ok), "value": value,
                               "threshold": bounds["max_gap"],
                               "message": f"{metric} on training rows {seen[metric]:.4f} vs "
                                          f"held-out {held[metric]:.4f}: gap {value:.4f}"})
    else:
        out["train"] = None
        out["skipped"] = f"no train-vs-held-out gap: {why} (pass the training data to compare)"
    overlap = model.training_overlap(scored.X, scored.frame)
    out["duplicates"] = overlap
    if overlap.get("share") is not None:
        share = float(overlap["share"])
        ok = share <= bounds["max_duplicate_share"]
        checks.append({"name": "overfitting.duplicates", "passed": bool(ok), "value": share,
                       "threshold": bounds["max_duplicate_share"],
                       "message": f"{overlap['rows']} of {overlap['of']} held-out rows are "
                                  f"training rows ({share:.2%})"})
    return {"overfitting": out, "checks": checks}
