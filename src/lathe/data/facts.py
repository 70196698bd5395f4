"""What a data-quality check reads and returns: `TableFacts` (computed once, lazily) and
`Finding`, and the `CHECKS` registry the checks plug into (see lathe.data.quality).

>>> import pandas as pd
>>> facts = TableFacts(pd.DataFrame({"x": [1, 2, None], "y": ["a", "b", "a"]}), "y",
...                    source="t.csv", test_frame=None, test_source=None)
>>> int(facts.missing["x"]), facts.task
(1, 'binary')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from lathe.data.infer import infer_schema, infer_task
from lathe.data.schema import Schema, Task
from lathe.data.split import row_keys
from lathe.errors import DataError
from lathe.plugins import Registry

__all__ = ["Finding", "TableFacts", "CHECKS", "Check", "Severity", "SEVERITY_ORDER"]

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
EXAMPLES_SHOWN = 3


@dataclass
class Finding:
    code: str
    severity: Severity
    message: str
    column: str | None = None
    count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "column": self.column, "count": self.count, "details": _plain(self.details)}


class TableFacts:
    """What every check may read; expensive facts are computed once, on first use."""

    def __init__(self, frame: pd.DataFrame, target: str | None, *, source: str,
                 test_frame: pd.DataFrame | None, test_source: str | None) -> None:
        self.frame = frame
        self.target = target
        self.source = source
        self.test_frame = test_frame
        self.test_source = test_source or "test data"
        self.n_rows = len(frame)
        self.feature_names = [c for c in frame.columns if c != target]
        self.kinds, self.dropped, self.usable = _infer_kinds(frame, target, source)
        self.task: Task | None = None
        if target is not None:
            try:
                self.task = infer_task(frame[target], source=source)
            except DataError:  # empty or one-class label: reported by the checks, not raised
                self.task = None

    @property
    def label(self) -> pd.Series | None:
        return self.frame[self.target] if self.target is not None else None

    @cached_property
    def missing(self) -> pd.Series:
        return self.frame.isna().sum()

    @cached_property
    def n_unique(self) -> pd.Series:
        return self.frame.nunique(dropna=True)

    @cached_property
    def row_keys(self) -> np.ndarray:
        return row_keys(self.frame)

    @cached_property
    def feature_keys(self) -> np.ndarray:
        return row_keys(self.frame[self.feature_names])

    def column_summaries(self) -> list[dict[str, Any]]:
        out = []
        for name in self.frame.columns:
            values = self.frame[name]
            missing = int(self.missing[name])
            out.append({
                "name": name,
                "kind": self.kinds[name],
                "dtype": str(values.dtype),
                "missing": missing,
                "missing_fraction": missing / self.n_rows if self.n_rows else 0.0,
                "n_unique": int(self.n_unique[name]),
                "examples": [_short(v) for v in values.dropna().unique()[:EXAMPLES_SHOWN]],
                "note": self.dropped.get(name),
            })
        return out


Check = Callable[[TableFacts], list[Finding]]
CHECKS: Registry[Check] = Registry("data check")


# ---- helpers ---------------------------------------------------------------------------------

def _infer_kinds(frame: pd.DataFrame, target: str | None,
                 source: str) -> tuple[dict[str, str], dict[str, str], bool]:
    """Kind per column as `infer_schema` would see it ('label' / 'dropped' for the others),
    the reasons for drops, and whether any feature survives."""
    empty = [c for c in frame.columns if c != target and frame[c].isna().all()]
    drop = empty + ([target] if target is not None else [])
    usable = True
    try:
        schema = infer_schema(frame, None, drop_columns=drop, source=source)
    except DataError:
        # No feature survived; infer again beside a stand-in column so each column still gets
        # its own reason (constant, id, ...) instead of one combined error.
        usable = False
        probe = "\x00lathe_probe"
        stand_in = frame.assign(**{probe: np.resize([0.0, 1.0], len(frame))})
        try:
            schema = infer_schema(stand_in, None, drop_columns=drop, source=source)
        except DataError:  # fewer than two rows: nothing is usable, no reasons to give
            schema = Schema(columns=[])
        schema.columns = [c for c in schema.columns if c.name != probe]
    kinds: dict[str, str] = {c.name: c.kind for c in schema.columns}
    dropped = {name: reason for name, reason in schema.dropped.items() if name != target}
    for name in empty:
        dropped[name] = "empty on every row"
    for name in frame.columns:
        kinds.setdefault(name, "label" if name == target else "dropped")
    return kinds, dropped, usable and bool(schema.columns)


def _named_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{source}: column name(s) {repeated} appear more than once",
                        hint="give every column a distinct name", columns=repeated)
    return frame if names == list(frame.columns) else frame.set_axis(names, axis=1)


def _comparable(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give each shared column one dtype on both sides, so equal values hash equally
    (a test file with a blank may read an int column as float, or numbers as text)."""
    left_out, right_out = {}, {}
    for name in left.columns:
        a, b = left[name], right[name]
        if a.dtype != b.dtype:
            numeric = all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                          for s in (a, b))
            a, b = (a.astype("float64"), b.astype("float64")) if numeric else \
                (a.astype("string"), b.astype("string"))
        left_out[name], right_out[name] = a.reset_index(drop=True), b.reset_index(drop=True)
    return pd.DataFrame(left_out), pd.DataFrame(right_out)


def _row_numbers(mask: np.ndarray, limit: int = 5) -> list[int]:
    """1-based data-row numbers of the first few flagged rows (as error messages count them)."""
    return [int(i) + 1 for i in np.flatnonzero(mask)[:limit]]


def _first_value(values: pd.Series) -> Any:
    present = values.dropna()
    return _short(present.iloc[0]) if not present.empty else None


def _short(value: Any, limit: int = 60) -> Any:
    value = _plain(value)
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
