"""A compact profile of a table, kept in a model's artifact as its training reference, so
drift checks need no training file.

Per column: its storage type, row and missing counts, distinct values; numeric columns keep
every sorted value when there are at most 1,000 (exact small-sample tests), else 256
mid-quantiles and the standard deviation; category counts are kept (the 1,000 most frequent)
for text-like columns, integer columns with at most 1,000 distinct values and float columns
with at most 20; text columns
also keep up to 200 example texts (500 characters each) for embedding drift.

>>> import pandas as pd
>>> p = profile_frame(pd.DataFrame({"x": [1.5, 2.5, None], "c": ["a", "b", "a"]}))
>>> p["columns"]["x"]["values"], p["columns"]["x"]["missing"], p["columns"]["c"]["counts"]
([1.5, 2.5], 1, [['a', 2], ['b', 1]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["profile_frame", "prediction_profile", "PROFILE_VERSION", "storage_type"]

PROFILE_VERSION = 1
EXACT_ROWS = 1000
QUANTILES = 256
MAX_CATEGORIES = 1000
SMALL_NUMERIC = 20
TEXT_EXAMPLES = 200


def storage_type(values: pd.Series) -> str:
    """int, float, bool, category, string, datetime or other (pandas' view of the column)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    return "other"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _counts(values: pd.Series) -> tuple[list[list[Any]], bool]:
    counts = values.value_counts(dropna=True)
    pairs = [[_plain(k), int(c)] for k, c in counts.items()]
    return pairs[:MAX_CATEGORIES], len(pairs) > MAX_CATEGORIES


def _column(values: pd.Series) -> dict[str, Any]:
    kind = storage_type(values)
    out: dict[str, Any] = {"dtype": kind, "rows": int(len(values))}
    if kind in ("int", "float"):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.sort(arr[np.isfinite(arr)])
        out["missing"] = int(len(arr) - len(finite))
        out["nunique"] = int(len(np.unique(finite)))
        if len(finite) <= EXACT_ROWS:
            out["values"] = finite.tolist()
        else:
            # mid-quantiles: each point stands for an equal share of the rows
            out["quantiles"] = np.quantile(finite, (np.arange(QUANTILES) + 0.5) / QUANTILES
                                           ).tolist()
        out["std"] = float(np.std(finite)) if len(finite) else None
        # counts for small-valued columns: a window where an integer column takes at most 10
        # values is tested as categorical (Evidently's typing), against these counts
        limit = MAX_CATEGORIES if kind == "int" else SMALL_NUMERIC
        if out["nunique"] <= limit:
            out["counts"], _ = _counts(values[np.isfinite(arr)])
        return out
    present = values.dropna()
    out["missing"] = int(len(values) - len(present))
    out["nunique"] = int(present.nunique())
    if kind in ("bool", "category", "string"):
        out["counts"], out["truncated"] = _counts(present)
    if kind == "string" and out["nunique"] > 0.5 * max(len(present), 1):
        picked = present.sample(min(TEXT_EXAMPLES, len(present)), random_state=0)
        out["texts"] = [str(t)[:500] for t in picked]
    return out


def profile_frame(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The profile of every column of `frame` but `exclude` (JSON-ready)."""
    return {
        "version": PROFILE_VERSION,
        "rows": int(len(frame)),
        "columns": {str(c): _column(frame[c]) for c in frame.columns if c not in exclude},
    }


def prediction_profile(raw: np.ndarray, classes: list[Any] | None) -> dict[str, Any]:
    """The profile of a model's outputs on held-out rows, for prediction drift against a
    model: `prediction` (the predicted class as text, or the predicted value) and, for two
    classes, `proba_<positive>` (the second class's probability).

    >>> p = prediction_profile(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), ["no", "yes"])
    >>> p["rows"], p["columns"]["prediction"]["counts"], p["columns"]["proba_yes"]["values"]
    (3, [['no', 2], ['yes', 1]], [0.1, 0.3, 0.8])
    """
    out = np.asarray(raw, dtype=float)
    if not classes:
        return profile_frame(pd.DataFrame({"prediction": out.reshape(-1)}))
    names = np.array([str(c) for c in classes], dtype=object)
    columns: dict[str, Any] = {"prediction": pd.Series(names[out.argmax(axis=1)], dtype=object)}
    if len(classes) == 2:
        columns[f"proba_{classes[1]}"] = out[:, 1]
    return profile_frame(pd.DataFrame(columns))
