"""Parent and child measured side by side on the same rows: size, latency, speed, quality.

`measure(model, frame)` times `predict_raw` on conformed rows (so reading and schema checks
are not counted): p50/p99 latency of single rows and of 64-row batches, rows/s over the whole
frame, and every scalar quality metric from `lathe.evaluation.metrics`. `comparison_table`
puts two measurements in one table with the child/parent ratio of each number.

>>> table = comparison_table({"size_bytes": 100, "accuracy": 0.9},
...                          {"size_bytes": 25, "accuracy": 0.89})
>>> table["size_bytes"]["ratio"], table["accuracy"]["delta"]
(0.25, -0.01)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lathe.data.infer import encode_labels
from lathe.evaluation.metrics import compute_metrics
from lathe.evaluation.timing import time_calls, windows

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["measure", "comparison_table", "artifact_size", "format_table", "agreement"]

TIMED_KEYS = ("latency_ms_p50_batch1", "latency_ms_p99_batch1", "latency_ms_p50_batch64",
              "latency_ms_p99_batch64", "rows_per_second")


def artifact_size(path: Path | None) -> int | None:
    """Bytes on disk of an artifact's files (the manifest excluded: it holds this table; the
    training-row hashes under lineage/ too: they describe the data, not the model)."""
    if path is None:
        return None
    root = Path(path)
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and p.name != "manifest.json"
               and p.relative_to(root).parts[:1] != ("lineage",))


def _latencies(model: Model, X: pd.DataFrame, batch: int, calls: int) -> list[float]:
    parts = [X.iloc[a:b] for a, b in windows(len(X), batch=batch, calls=calls)]
    return time_calls(model.family.predict_raw, parts).wall_ms


def measure(model: Model, frame: pd.DataFrame, *, calls_batch1: int = 50,
            calls_batch64: int = 10) -> dict[str, Any]:
    """Size, latency and quality of `model` on the labelled `frame` (one flat dict)."""
    X, _ = model.schema.conform(frame, source="evaluation data")
    y = encode_labels(frame[model.schema.target], model.schema, source="evaluation data")
    # warm-up over the very rows timed below: lazy sessions and per-shape kernel plans
    # (torch re-plans for every new token length) are start-up cost, not latency
    _latencies(model, X, 1, calls_batch1)
    _latencies(model, X, 64, calls_batch64)
    began = time.perf_counter()
    raw = model.family.predict_raw(X)
    seconds = max(time.perf_counter() - began, 1e-9)
    one = _latencies(model, X, 1, calls_batch1)
    many = _latencies(model, X, 64, calls_batch64)
    metrics = compute_metrics(model.task, y, raw, model.classes,
                              positive=model.schema.positive_index)
    row: dict[str, Any] = {
        "family": model.family.name,
        "size_bytes": artifact_size(model.path),
        "latency_ms_p50_batch1": float(np.percentile(one, 50)),
        "latency_ms_p99_batch1": float(np.percentile(one, 99)),
        "latency_ms_p50_batch64": float(np.percentile(many, 50)),
        "latency_ms_p99_batch64": float(np.percentile(many, 99)),
        "rows_per_second": float(len(X) / seconds),
        "n_rows": int(len(X)),
    }
    row.update({k: v for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)})
    row["_raw"] = raw
    return row


def agreement(parent_raw: np.ndarray, child_raw: np.ndarray) -> float:
    """Share of rows where both predict the same class (or, for regression, 1 - |rel diff|)."""
    if parent_raw.ndim == 2:
        return float((parent_raw.argmax(1) == child_raw.argmax(1)).mean())
    scale = float(np.abs(parent_raw).mean()) or 1.0
    return float(1.0 - np.abs(parent_raw - child_raw).mean() / scale)


def comparison_table(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{metric: {parent, child, delta, ratio}} for every number both sides have."""
    table: dict[str, dict[str, Any]] = {}
    for key, value in parent.items():
        other = child.get(key)
        if key.startswith("_") or isinstance(value, str) or value is None or other is None:
            continue
        table[key] = {
            "parent": value,
            "child": other,
            "delta": round(float(other) - float(value), 6),
            "ratio": round(float(other) / float(value), 4) if value else None,
        }
    return table


def format_table(table: dict[str, dict[str, Any]]) -> str:
    """A plain-text table for terminals and notes."""
    lines = [f"{'metric':<26}{'parent':>14}{'child':>14}{'child/parent':>14}"]
    for key, row in table.items():
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.3f}"
        lines.append(f"{key:<26}{row['parent']:>14.4g}{row['child']:>14.4g}{ratio:>14}")
    return "\n".join(lines)
