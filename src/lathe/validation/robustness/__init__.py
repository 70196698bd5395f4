"""Robustness: how much accuracy a model loses, and how many predictions flip, when its
input is perturbed the way real input is (`_perturb.py`).

Each perturbation runs on (a sample of) the labelled rows of DATA and reports the metric
before and after, the drop, and the share of rows whose prediction changed; a check fails
when the drop passes its threshold (`column_order` must flip nothing at all). Regression
reports RMSE and its relative increase instead of accuracy.

>>> sorted(DEFAULT_MAX_DROP)[:3]
['case', 'column_order', 'missing_values']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.errors import UsageError
from lathe.validation._scored import Scored, predicted_index
from lathe.validation.robustness._perturb import TABULAR, TEXT

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["run_robustness", "TABULAR_CHECKS", "TEXT_CHECKS", "DEFAULT_MAX_DROP",
           "perturb_and_score", "feature_columns"]

TABULAR_CHECKS = tuple(TABULAR)
TEXT_CHECKS = tuple(TEXT)
DEFAULT_MAX_DROP = {"noise": 0.05, "missing_values": 0.05, "unseen_categories": 0.05,
                    "column_order": 0.0, "typos": 0.10, "case": 0.05, "punctuation": 0.05,
                    "whitespace": 0.02, "width": 0.05, "traditional_chinese": 0.05}
MAX_ROWS = 5000


def feature_columns(model: Model, need: str) -> list[str]:
    schema = model.schema
    if need == "any":
        return [c for c in schema.feature_names if schema.column(c).kind != "text"] or \
            schema.feature_names
    if need == "zh":
        return [c.name for c in schema.columns if c.kind == "text"]
    return schema.names_of(need)


def perturb_and_score(model: Model, frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """(raw, predicted) of the model on raw rows `frame`."""
    X, _ = model.schema.conform(frame, source="perturbed rows")
    raw = model.family.predict_raw(X)
    return raw, predicted_index(model, raw)


def _compare(scored: Scored, rows: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    before, y = scored.pred[rows], scored.y[rows]
    if scored.is_classification:
        acc0, acc1 = float(np.mean(before == y)), float(np.mean(pred == y))
        return {"n": int(len(rows)), "accuracy": acc0, "accuracy_perturbed": acc1,
                "accuracy_drop": acc0 - acc1, "flip_rate": float(np.mean(pred != before))}
    yf = y.astype(float)
    r0 = float(np.sqrt(np.mean((before - yf) ** 2)))
    r1 = float(np.sqrt(np.mean((pred - yf) ** 2)))
    return {"n": int(len(rows)), "rmse": r0, "rmse_perturbed": r1,
            "rmse_increase": (r1 - r0) / r0 if r0 > 0 else float(r1 > 0),
            "flip_rate": float(np.mean(~np.isclose(pred, before, rtol=0.01)))}


def run_robustness(model: Model, scored: Scored, names: list[str], *,
                   thresholds: dict[str, float] | None = None, seed: int = 0,
                   max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """Run the named perturbations; `{"robustness": {name: result}, "checks": [...]}`."""
    limits = DEFAULT_MAX_DROP | (thresholds or {})
    rng = np.random.default_rng(seed)
    n = len(scored.y)
    rows = np.sort(rng.choice(n, size=min(n, max_rows), replace=False))
    sample = scored.frame.iloc[rows].reset_index(drop=True)
    results: dict[str, Any] = {}
    checks = []
    for name in names:
        if name not in TABULAR and name not in TEXT:
            raise UsageError(f"unknown perturbation {name!r}",
                             hint="one of " + ", ".join([*TABULAR, *TEXT]))
        need, perturb = (TABULAR | TEXT)[name]
        columns = feature_columns(model, need)
        if not columns:
            results[name] = {"skipped": f"the model has no {need} columns"}
            continue
        _, pred = perturb_and_score(model, perturb(sample, columns, np.random.default_rng(seed)))
        result = _compare(scored, rows, pred) | {"columns": columns}
        results[name] = result
        drop = result.get("accuracy_drop", result.get("rmse_increase", 0.0))
        limit = limits.get(name, 0.05)
        value = result["flip_rate"] if name == "column_order" else drop
        ok = bool(value <= limit + 1e-12)
        what = "flip rate" if name == "column_order" else (
            "accuracy drop" if "accuracy_drop" in result else "relative RMSE increase")
        checks.append({"name": f"robustness.{name}", "passed": ok, "value": value,
                       "threshold": limit,
                       "message": f"{name}: {what} {value:.4f} ({'≤' if ok else '>'} {limit:g}),"
                                  f" {result['flip_rate']:.1%} of predictions flipped"})
    return {"robustness": results, "checks": checks}
