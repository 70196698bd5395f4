"""DP-safe preprocessing: what the mlp and linear families would otherwise learn from the
training rows directly (scaling bounds, median imputation, category vocabularies, the
schema's missing shares), bought with part of the budget or taken from the config.

- numeric bounds: a Laplace histogram of each column over a fixed grid (0 and +-2^k,
  k = -8..40, so the grid itself reveals nothing); the bounds are the grid edges around the
  noisy 1st and 99th percentiles. Values are scaled by these bounds and clipped; missing
  values take the middle of the range (no median is computed).
- vocabularies: noisy counts (Laplace, b = 1/eps) of the categories present, kept when above
  1 + ln(1/(2 delta))/eps (the stability-based histogram of Korolova et al. 2009), so a
  category a handful of rows hold is never published in the manifest.

>>> import numpy as np, pandas as pd
>>> x = pd.DataFrame({"age": np.arange(10_000) % 70 + 18.0})
>>> lo, hi = private_bounds(x["age"].to_numpy(), 1.0, np.random.default_rng(0))
>>> lo <= 18 and 87 <= hi
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lathe.data.schema import Schema

__all__ = ["paid_columns", "private_bounds", "private_vocabulary", "private_preprocessing"]

_GRID = np.array(sorted([-(2.0 ** k) for k in range(-8, 41)] + [0.0]
                        + [2.0 ** k for k in range(-8, 41)]))


def numeric_inputs(schema: Schema, X: pd.DataFrame) -> list[str]:
    """The conformed columns a net sees as numbers (numeric, boolean, datetime parts)."""
    skip = set(schema.names_of("categorical", "text"))
    return [c for c in X.columns if c not in skip and c in schema.model_columns()]


def paid_columns(schema: Schema, X: pd.DataFrame, bounds: dict[str, Any],
                 categories: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns whose preprocessing must be paid for."""
    numeric = [c for c in numeric_inputs(schema, X) if c not in bounds]
    categorical = [c for c in schema.names_of("categorical") if c not in categories]
    return numeric, categorical


def private_bounds(values: np.ndarray, epsilon: float, rng: np.random.Generator
                   ) -> tuple[float, float]:
    """(lo, hi) around the noisy 1st and 99th percentiles: epsilon-DP (one row, one bin)."""
    finite = values[np.isfinite(values)]
    # bins: (-inf, g0), [g0, g1), ..., [g_last, inf)
    counts = np.bincount(np.searchsorted(_GRID, finite, side="right"),
                         minlength=len(_GRID) + 1).astype(float)
    noisy = counts + rng.laplace(0.0, 1.0 / epsilon, size=counts.shape)
    # empty bins' positive noise would pile up in the tails: keep the bins whose noisy count
    # clears what noise alone reaches once in ten grids (post-processing, free)
    floor = math.log(len(noisy) * 10) / epsilon
    if (noisy > floor).any():
        noisy = np.where(noisy > floor, noisy, 0.0)
    else:  # too few rows for this epsilon: the single most likely bin
        noisy = np.where(np.arange(len(noisy)) == int(np.argmax(noisy)), 1.0, 0.0)
    cumulative = np.cumsum(noisy) / noisy.sum()
    low_bin = int(np.searchsorted(cumulative, 0.01))
    high_bin = int(np.searchsorted(cumulative, 0.99))
    edges = np.concatenate([[_GRID[0] * 2], _GRID, [_GRID[-1] * 2]])
    lo, hi = float(edges[low_bin]), float(edges[min(high_bin + 1, len(edges) - 1)])
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def private_vocabulary(values: pd.Series, epsilon: float, delta: float,
                       rng: np.random.Generator) -> list[str]:
    """The categories whose noisy count clears the threshold: (epsilon, delta)-DP."""
    counts = values.astype(object).dropna().value_counts()
    threshold = 1.0 + math.log(1.0 / (2.0 * delta)) / epsilon
    noisy = counts.to_numpy(dtype=float) + rng.laplace(0.0, 1.0 / epsilon, size=len(counts))
    return sorted(str(v) for v, n in zip(counts.index, noisy, strict=True) if n > threshold)


def private_preprocessing(schema: Schema, X: pd.DataFrame, *, epsilon: float, delta: float,
                          bounds: dict[str, Any], categories: dict[str, Any]
                          ) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
    """Spend (epsilon, delta) on the paid columns; rewrite `schema` in place (vocabularies,
    no missing shares); return the bounds of every numeric input and a record of what was
    bought and what was public."""
    rng = np.random.default_rng()  # fresh OS entropy: a known seed would let noise be undone
    numeric, categorical = paid_columns(schema, X, bounds, categories)
    n_paid = len(numeric) + len(categorical)
    per_column = epsilon / n_paid if n_paid else 0.0
    per_vocab_delta = delta / len(categorical) if categorical else 0.0
    out: dict[str, tuple[float, float]] = {}
    for col in numeric_inputs(schema, X):
        if col in bounds:
            lo, hi = (float(v) for v in bounds[col])
        else:
            lo, hi = private_bounds(X[col].to_numpy(dtype="float64"), per_column, rng)
        out[col] = (lo, hi)
    dropped: dict[str, int] = {}
    for col in schema.names_of("categorical"):
        column = schema.column(col)
        before = len(column.categories or [])
        if col in categories:
            column.categories = [str(v) for v in categories[col]]
        else:
            column.categories = private_vocabulary(X[col], per_column, per_vocab_delta, rng)
            dropped[col] = before - len(column.categories)
    for column in schema.columns:
        column.missing_fraction = 0.0
    record = {
        "epsilon": epsilon, "delta": delta, "epsilon_per_column": per_column,
        "paid": {"bounds": numeric, "vocabularies": categorical},
        "public": {"bounds": sorted(bounds), "vocabularies": sorted(categories),
                   "always": ["column names and kinds", "label classes", "train row count"]},
        "bounds": {col: list(span) for col, span in out.items()},
        "categories_below_threshold": dropped,
        "mechanisms": {"bounds": "Laplace histogram on a fixed power-of-two grid",
                       "vocabularies": "Laplace counts above 1 + ln(1/(2 delta))/epsilon"},
    }
    return out, record
