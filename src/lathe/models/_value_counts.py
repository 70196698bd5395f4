"""How often each value of a column occurs in the training rows, as an extra feature.

A tree splits a numeric column into ranges, so it cannot see that one exact value is common
and its neighbours are rare: that 40 hours a week is the standard week, or that a sampling
weight is shared by many people of one census stratum. The count of the value can. On UCI
Adult (a 5-fold LightGBM bag, 4 seeds) it raised held-out ROC-AUC by +0.0011 to +0.0017 and
log loss fell on each seed; counting categoricals alone gave nothing (LightGBM already groups
categories by their label statistics). On wine quality, whose measurements rarely repeat
exactly, it did not help, which is why `best` blends bags with and without it on
out-of-fold predictions instead of always adding it.

Rows are counted where the model is fitted, on its training rows only, so out-of-fold and
validation rows get the counts an unseen row gets. Only values that repeat are kept: a value
held by one training row counts 0, as an unseen value does (to that row, no *other* row
shares it; and a column of distinct measurements stores nothing). A missing value has no
count (NaN); so has a category unknown to the schema, which `Schema.conform` makes missing.

>>> import pandas as pd
>>> from lathe.data.infer import infer_schema
>>> frame = pd.DataFrame({"hours": [40, 40, 40, 38, 45, 40] * 5 + [37], "y": [0, 1] * 15 + [0]})
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> counts = ValueCounts.fit(X, schema)
>>> counts.transform(pd.DataFrame({"hours": [40.0, 37.0, 41.0, None]}))["hours__count"].tolist()
[20.0, 0.0, 0.0, nan]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lathe.data.schema import Schema

__all__ = ["ValueCounts", "COUNT_SUFFIX", "MIN_COUNT"]

COUNT_SUFFIX = "__count"
FILE = "value_counts.json"
# Values held by fewer training rows are not stored (they count 0, like unseen values).
MIN_COUNT = 2


class ValueCounts:
    """Per column: the values that repeat in the training rows and how many rows held each."""

    def __init__(self, tables: dict[str, tuple[list[Any], list[int]]]) -> None:
        self.tables = tables
        # lookups built once: predict_raw may run on several threads, and these are read-only
        self._index = {col: (pd.Index(values), np.asarray(counts, dtype=np.float64))
                       for col, (values, counts) in tables.items()}
        # per column: (the category list last seen, the count of each category in its order),
        # so a Categorical is looked up by its codes. A race only computes the same array twice.
        self._by_categories: dict[str, tuple[pd.Index, np.ndarray]] = {}

    @classmethod
    def fit(cls, X: pd.DataFrame, schema: Schema) -> ValueCounts:
        """Count every numeric and categorical column with more than two distinct values
        (a two-valued column's count is a function of the value itself: nothing new).
        A column whose count would take the name of a column already in `X` is skipped."""
        tables: dict[str, tuple[list[Any], list[int]]] = {}
        taken = {str(c) for c in X.columns}
        for col in schema.names_of("numeric", "categorical"):
            if col + COUNT_SUFFIX in taken:
                continue
            counts = _keys(X[col]).value_counts(dropna=True)
            repeated = counts[counts >= MIN_COUNT]
            if len(counts) > 2 and len(repeated):
                tables[col] = ([_plain(v) for v in repeated.index], [int(n) for n in repeated])
        return cls(tables)

    def source_column(self, feature: str) -> str | None:
        """The column a `<column>__count` feature counts, or None for any other name."""
        if feature.endswith(COUNT_SUFFIX):
            column = feature[: -len(COUNT_SUFFIX)]
            return column if column in self.tables else None
        return None

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """`X` with a `<column>__count` column after it for every counted column."""
        if not self._index:
            return X
        added = {}
        for col, (index, counts) in self._index.items():
            values = X[col]
            if isinstance(values.dtype, pd.CategoricalDtype):
                added[col + COUNT_SUFFIX] = self._category_counts(col, values)
            else:
                added[col + COUNT_SUFFIX] = _number_counts(values, index, counts)
        # one concat: inserting columns one by one cost ten times as much
        return pd.concat([X, pd.DataFrame(added, index=X.index)], axis=1)

    def _category_counts(self, col: str, values: pd.Series) -> np.ndarray:
        categories = values.cat.categories
        cached = self._by_categories.get(col)
        # conformed frames always carry the schema's categories: an equality check (C speed;
        # LightGBM re-sets the same categories on every call anyway) instead of a lookup by text
        if cached is None or not (cached[0] is categories or cached[0].equals(categories)):
            index, counts = self._index[col]
            cached = (categories, _counts_at(index.get_indexer(categories.astype(object)), counts))
            self._by_categories[col] = cached
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cached[1][codes], np.nan)

    def save(self, directory: Path) -> None:
        tables = {col: {"values": values, "counts": counts}
                  for col, (values, counts) in self.tables.items()}
        (directory / FILE).write_text(json.dumps(tables, separators=(",", ":")))

    @classmethod
    def load(cls, directory: Path) -> ValueCounts | None:
        path = directory / FILE
        if not path.exists():
            return None
        tables = json.loads(path.read_text())
        return cls({col: (t["values"], t["counts"]) for col, t in tables.items()})


def _keys(values: pd.Series) -> pd.Series:
    """Numbers as floats; categories as their text (a Categorical's codes change with its
    category list, the text does not)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(object)
    return values.astype(np.float64)


def _number_counts(values: pd.Series, index: pd.Index, counts: np.ndarray) -> np.ndarray:
    """The count of each number: 0 where training never saw it (or saw it once), NaN where
    it is missing. On numpy arrays, as predict_raw runs it per member and per request
    (pandas' per-column machinery cost 2 ms a call for one row)."""
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    found = _counts_at(index.get_indexer(numbers), counts)
    found[np.isnan(numbers)] = np.nan
    return found


def _counts_at(position: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.where(position >= 0, counts[position], 0.0) if len(counts) else np.zeros(len(position))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
