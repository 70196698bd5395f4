"""Differentially private aggregates of a data file (`lathe privacy stats`): counts, sums,
means and histograms with the Laplace or Gaussian mechanism, and a per-dataset budget that
each call spends and that refuses a query once it would be overspent.

Accounting: one call's epsilon is split evenly over its queries (basic composition); a mean
is a noisy sum over a noisy count (half each); a sum or mean needs bounds to clamp to: given
as `bounds` (public, free) or bought with a fifth of that query's share (a Laplace histogram
on a fixed grid, `lathe.privacy.dp.preprocess.private_bounds`). A numeric histogram uses
the bounds and 10 equal bins; a categorical one keeps the categories whose noisy count
clears 1 + ln(1/(2 delta))/epsilon, so a rare value is never published (this needs delta
with either mechanism). The ledger (a JSON file, default `.lathe/privacy_budget.json`) is
keyed by the file's SHA-256, so a renamed copy shares its budget.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("x\\n" + "\\n".join(str(i % 10) for i in range(1000)) + "\\n")
>>> out = private_stats(d / "t.csv", epsilon=1.0, count=True, ledger=d / "b.json", budget=1.5)
>>> abs(out["results"]["count"]["value"] - 1000) < 50, out["budget"]["remaining"]
(True, 0.5)
>>> private_stats(d / "t.csv", epsilon=1.0, count=True, ledger=d / "b.json", budget=1.5)
Traceback (most recent call last):
...
lathe.errors.Conflict: the privacy budget of t.csv is spent: 1 of 1.5 used, 0.5 left, this query asks 1. Fix: ask for epsilon <= 0.5, or raise --budget (every release adds to what can be learned)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import Conflict, DataError, UsageError, did_you_mean

__all__ = ["private_stats", "DEFAULT_LEDGER"]

DEFAULT_LEDGER = Path(".lathe") / "privacy_budget.json"
BINS = 10


def _check(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    for col in columns:
        if col not in frame.columns:
            raise DataError(f"{source}: no column {col!r}",
                            hint=did_you_mean(col, list(frame.columns)) or
                            f"columns are {', '.join(map(str, frame.columns[:20]))}",
                            column=col, file=source)


def _numeric(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce")
    if values.notna().sum() == 0 and frame[col].notna().any():
        raise DataError(f"{source}: column {col!r} is not numeric; a sum or mean needs numbers",
                        hint="ask --histogram for a categorical column", column=col)
    return values.to_numpy(dtype=float)


def _ledger(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"datasets": {}}
    try:
        return dict(json.loads(path.read_text()))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: the privacy ledger is not JSON ({err.msg})",
                        hint="restore it from a backup; deleting it forgets what was spent",
                        file=str(path)) from None


def private_stats(path: str | Path, *, epsilon: float, delta: float = 1e-6,
                  mechanism: str = "laplace", count: bool = False,
                  sums: list[str] | None = None, means: list[str] | None = None,
                  histograms: list[str] | None = None,
                  bounds: dict[str, tuple[float, float]] | None = None,
                  budget: float = 3.0, ledger: str | Path | None = None,
                  encoding: str | None = None) -> dict[str, Any]:
    """Answer the queries with `epsilon` (and `delta`) and record the spend in the ledger."""
    from lathe.atomic import write_text_atomic
    from lathe.data.load import read_table

    path = Path(path)
    sums, means, histograms = list(sums or []), list(means or []), list(histograms or [])
    bounds = dict(bounds or {})
    if mechanism not in ("laplace", "gaussian"):
        raise UsageError(f"unknown mechanism {mechanism!r}", hint="choose laplace or gaussian")
    if not epsilon > 0 or not math.isfinite(epsilon):
        raise UsageError(f"--epsilon {epsilon} must be > 0", hint="e.g. --epsilon 0.5")
    if not 0 < delta < 1:
        raise UsageError(f"--delta {delta} must be in (0, 1)", hint="e.g. --delta 1e-6")
    queries = int(count) + len(sums) + len(means) + len(histograms)
    if not queries:
        raise UsageError("no query asked", hint="add --count, --sum COL, --mean COL or "
                         "--histogram COL")
    frame = read_table(path, encoding=encoding)
    _check(frame, sums + means + histograms + list(bounds), str(path))
    if delta >= 1 / len(frame):
        raise UsageError(f"--delta {delta:g} must be below 1/n = {1 / len(frame):.3g}",
                         hint=f"use --delta {min(1e-6, 0.1 / len(frame)):.2g}")
    ledger_path = Path(ledger) if ledger is not None else DEFAULT_LEDGER
    book = _ledger(ledger_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = book["datasets"].setdefault(digest, {"file": path.name, "spent_epsilon": 0.0,
                                                 "spent_delta": 0.0, "releases": []})
    spent = float(entry["spent_epsilon"])
    if spent + epsilon > budget + 1e-12:
        raise Conflict(f"the privacy budget of {path.name} is spent: {spent:g} of {budget:g} "
                       f"used, {max(0.0, budget - spent):g} left, this query asks {epsilon:g}",
                       hint=f"ask for epsilon <= {max(0.0, budget - spent):g}, or raise "
                            "--budget (every release adds to what can be learned)",
                       file=str(path))
    rng = np.random.default_rng()  # OS entropy: a known seed would let the noise be undone
    share = epsilon / queries
    results: dict[str, Any] = {}
    if count:
        noisy, params = _noisy(len(frame), mechanism, 1.0, share, delta / queries, rng)
        results["count"] = {"value": max(0.0, noisy), "epsilon": share, **params}
    for kind, columns in (("sum", sums), ("mean", means)):
        for col in columns:
            results.setdefault(kind, {})[col] = _sum_or_mean(
                kind, _numeric(frame, col, str(path)), bounds.get(col), mechanism, share,
                delta / queries, rng)
    for col in histograms:
        results.setdefault("histogram", {})[col] = _histogram(
            frame[col], bounds.get(col), mechanism, share, delta / queries, rng)
    uses_delta = mechanism == "gaussian" or bool(histograms)
    entry["spent_epsilon"] = spent + epsilon
    entry["spent_delta"] = float(entry["spent_delta"]) + (delta if uses_delta else 0.0)
    entry["releases"].append({"time": time.time(), "epsilon": epsilon,
                              "delta": delta if uses_delta else 0.0, "mechanism": mechanism,
                              "queries": sorted(results)})
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(ledger_path, json.dumps(book, indent=2))
    return {"dataset": str(path), "sha256": digest, "mechanism": mechanism,
            "epsilon": epsilon, "delta": delta if uses_delta else 0.0, "results": results,
            "budget": {"total": budget, "spent": entry["spent_epsilon"],
                       "remaining": max(0.0, budget - entry["spent_epsilon"]),
                       "ledger": str(ledger_path)}}


def _noisy(value: float, mechanism: str, sensitivity: float, epsilon: float, delta: float,
           rng: np.random.Generator) -> tuple[float, dict[str, Any]]:
    from lathe.privacy.mechanisms import add_noise

    noisy, params = add_noise(value, mechanism, sensitivity, epsilon, delta, rng)
    return float(noisy), params


def _bounds(values: np.ndarray, given: tuple[float, float] | None, epsilon: float,
            rng: np.random.Generator) -> tuple[tuple[float, float], float, str]:
    """(bounds, epsilon left, where the bounds came from)."""
    if given is not None:
        return (float(given[0]), float(given[1])), epsilon, "given (public)"
    from lathe.privacy.dp.preprocess import private_bounds

    return private_bounds(values, epsilon / 5, rng), epsilon * 4 / 5, "bought (epsilon/5)"


def _sum_or_mean(kind: str, values: np.ndarray, given: tuple[float, float] | None,
                 mechanism: str, epsilon: float, delta: float,
                 rng: np.random.Generator) -> dict[str, Any]:
    (lo, hi), eps, source = _bounds(values, given, epsilon, rng)
    clipped = np.clip(values[np.isfinite(values)], lo, hi)
    sensitivity = max(abs(lo), abs(hi))
    if kind == "sum":
        value, params = _noisy(float(clipped.sum()), mechanism, sensitivity, eps, delta, rng)
        return {"value": value, "bounds": [lo, hi], "bounds_source": source, "epsilon": epsilon,
                **params}
    total, p_sum = _noisy(float(clipped.sum()), mechanism, sensitivity, eps / 2, delta / 2, rng)
    n, p_count = _noisy(float(len(clipped)), mechanism, 1.0, eps / 2, delta / 2, rng)
    mean = float(np.clip(total / max(n, 1.0), lo, hi))
    return {"value": mean, "bounds": [lo, hi], "bounds_source": source, "epsilon": epsilon,
            "noise": {"sum": p_sum, "count": p_count}}


def _histogram(column: pd.Series, given: tuple[float, float] | None, mechanism: str,
               epsilon: float, delta: float, rng: np.random.Generator) -> dict[str, Any]:
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().sum() == column.notna().sum() and column.notna().any():
        values = numeric.to_numpy(dtype=float)
        (lo, hi), eps, source = _bounds(values, given, epsilon, rng)
        edges = np.linspace(lo, hi, BINS + 1)
        counts = np.histogram(np.clip(values[np.isfinite(values)], lo, hi), edges)[0]
        # one row moves one count: L1 and L2 sensitivity 1
        noisy, params = _noisy_array(counts, mechanism, eps, delta, rng)
        return {"edges": edges.tolist(), "counts": noisy, "bounds_source": source,
                "epsilon": epsilon, **params}
    counts = column.astype(object).dropna().astype(str).value_counts()
    threshold = 1.0 + math.log(1.0 / (2.0 * delta)) / epsilon
    noisy = counts.to_numpy(dtype=float) + rng.laplace(0.0, 1.0 / epsilon, size=len(counts))
    kept = {str(k): float(v) for k, v in zip(counts.index, noisy, strict=True) if v > threshold}
    return {"counts": dict(sorted(kept.items())), "threshold": threshold, "epsilon": epsilon,
            "scale": 1.0 / epsilon, "mechanism": "laplace with a threshold (categories)"}


def _noisy_array(counts: np.ndarray, mechanism: str, epsilon: float, delta: float,
                 rng: np.random.Generator) -> tuple[list[float], dict[str, Any]]:
    from lathe.privacy.mechanisms import add_noise

    noisy, params = add_noise(counts, mechanism, 1.0, epsilon, delta, rng)
    return np.clip(noisy, 0, None).tolist(), params
