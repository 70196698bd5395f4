"""The input contract of a model: column roles and types, the label and its task.

A `Schema` is inferred at training time (see `lathe.data.infer`), saved in the artifact's
manifest, and enforced at prediction time by `Schema.conform`, which turns any incoming frame
into exactly the typed feature frame the model was trained on — or says precisely why not.

>>> import pandas as pd
>>> schema = Schema(
...     columns=[Column("age", "numeric"), Column("job", "categorical", categories=["a", "b"])],
...     target="y", task="binary", classes=["no", "yes"])
>>> frame, report = schema.conform(pd.DataFrame({"age": ["41"], "job": ["c"], "id": [7]}))
>>> frame.dtypes.astype(str).tolist(), report.unseen_categories, report.extra_columns
(['float64', 'category'], {'job': 1}, ['id'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from lathe.errors import SchemaMismatch

__all__ = ["Column", "Schema", "ConformReport", "ColumnKind", "Task"]

ColumnKind = Literal["numeric", "categorical", "boolean", "text", "datetime"]
Task = Literal["binary", "multiclass", "regression"]
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour")


@dataclass
class Column:
    name: str
    kind: ColumnKind
    dtype: str = ""
    categories: list[str] | None = None
    missing_fraction: float = 0.0
    language: str | None = None


@dataclass
class ConformReport:
    """What `Schema.conform` had to forgive; the CLI prints it, `--strict` refuses it."""

    extra_columns: list[str] = field(default_factory=list)
    unseen_categories: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        out = []
        if self.extra_columns:
            out.append(
                f"ignored {len(self.extra_columns)} column(s) the model does not use: "
                + ", ".join(self.extra_columns[:10])
            )
        for col, n in self.unseen_categories.items():
            out.append(
                f"column {col!r}: {n} row(s) have a category not seen in training "
                "(treated as missing)"
            )
        for col, n in self.missing_values.items():
            out.append(f"column {col!r}: {n} missing value(s)")
        return out


@dataclass
class Schema:
    columns: list[Column]
    target: str | None = None
    task: Task | None = None
    classes: list[Any] | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # binary only: the class that plain precision/recall/f1 describe; None means the second
    # of the sorted classes (scikit-learn's convention), as in artifacts saved before it existed
    positive_class: Any | None = None

    # ---- introspection -------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def names_of(self, *kinds: str) -> list[str]:
        return [c.name for c in self.columns if c.kind in kinds]

    @property
    def n_classes(self) -> int:
        return len(self.classes or [])

    @property
    def positive_index(self) -> int | None:
        """Index of the positive class of a binary label (declared, else the second class).

        >>> Schema([], task="binary", classes=["no", "yes"]).positive_index
        1
        >>> Schema([], task="binary", classes=["no", "yes"], positive_class="no").positive_index
        0
        """
        if self.task != "binary" or len(self.classes or []) != 2:
            return None
        classes = [str(c) for c in self.classes or []]
        if self.positive_class is None or str(self.positive_class) not in classes:
            return 1
        return classes.index(str(self.positive_class))

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [asdict(c) for c in self.columns],
            "target": self.target,
            "task": self.task,
            "classes": _plain(self.classes),
            "dropped": dict(self.dropped),
            "notes": list(self.notes),
            "positive_class": None if self.positive_class is None else str(self.positive_class),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            columns=[Column(**c) for c in data["columns"]],
            target=data.get("target"),
            task=data.get("task"),
            classes=data.get("classes"),
            dropped=dict(data.get("dropped", {})),
            notes=list(data.get("notes", [])),
            positive_class=data.get("positive_class"),
        )

    # ---- enforcement ---------------------------------------------------------------------
    def conform(
        self, frame: pd.DataFrame, *, source: str = "input"
    ) -> tuple[pd.DataFrame, ConformReport]:
        """Typed feature frame in training column order, plus what was forgiven.

        Missing columns and values of the wrong type raise `SchemaMismatch` naming the column
        and the first offending row; extra columns, unseen categories and NaNs are reported.
        """
        report = ConformReport()
        names = [str(c) for c in frame.columns]
        missing = [c for c in self.feature_names if c not in names]
        if missing:
            raise SchemaMismatch(
                f"{source}: missing column(s) {missing} that the model was trained on",
                hint="add them (empty values are allowed) or retrain without them",
                columns=missing,
            )
        used = set(self.feature_names) | set(self.dropped) | {self.target}
        report.extra_columns = [c for c in names if c not in used]
        out: dict[str, Any] = {}
        for col in self.columns:
            values = frame[col.name]
            n_missing = int(values.isna().sum())
            if n_missing:
                report.missing_values[col.name] = n_missing
            if col.kind == "numeric":
                out[col.name] = _to_number(values, col.name, source)
            elif col.kind == "boolean":
                out[col.name] = _to_bool_float(values, col.name, source)
            elif col.kind == "categorical":
                cats = col.categories or []
                text = _as_str(values)
                unseen_mask = text.notna() & ~text.isin(cats)
                if unseen_mask.any():
                    report.unseen_categories[col.name] = int(unseen_mask.sum())
                    text = text.where(~unseen_mask, None)
                out[col.name] = pd.Categorical(text, categories=cats)
            elif col.kind == "text":
                out[col.name] = _as_str(values).fillna("").astype(str).to_numpy(dtype=object)
            elif col.kind == "datetime":
                stamps = _to_datetime(values, col.name, source)
                for part in DATETIME_PARTS:
                    out[f"{col.name}__{part}"] = (
                        getattr(stamps.dt, part).astype("float64").to_numpy()
                    )
        result = pd.DataFrame(out, index=frame.index)
        for name in self.names_of("text"):
            result[name] = result[name].astype(object)
        return result, report

    def model_columns(self) -> list[str]:
        """Column names of the conformed frame (datetimes expand into parts)."""
        out: list[str] = []
        for col in self.columns:
            if col.kind == "datetime":
                out.extend(f"{col.name}__{p}" for p in DATETIME_PARTS)
            else:
                out.append(col.name)
        return out


def _plain(values: list[Any] | None) -> list[Any] | None:
    if values is None:
        return None
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _as_str(values: pd.Series) -> pd.Series:
    """Categories are compared as text so that 1 and "1" agree between CSV and JSON inputs."""
    out = values.astype("string").str.strip()
    if pd.api.types.is_float_dtype(values.dtype):
        # 3.0 read from one file and 3 from another are the same category
        as_float = pd.to_numeric(values, errors="coerce")
        whole = as_float.notna() & (as_float == np.round(as_float))
        out = out.where(~whole, as_float.where(whole).astype("Int64").astype("string"))
    return out.astype(object).where(out.notna(), None)


def _first_bad(values: pd.Series, bad: pd.Series) -> tuple[Any, Any]:
    position = int(np.flatnonzero(bad.to_numpy())[0])
    return position, values.iloc[position]


def _to_number(values: pd.Series, name: str, source: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype("string").str.strip() != "")
    if bad.any():
        position, example = _first_bad(values, bad)
        raise SchemaMismatch(
            f"{source}: column {name!r} must be numeric, but row {position + 1} holds {example!r} "
            f"({int(bad.sum())} such row(s))",
            hint="fix or blank those values",
            column=name,
            row=position + 1,
        )
    return numbers.astype("float64").to_numpy()


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _to_bool_float(values: pd.Series, name: str, source: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64").to_numpy()
    text = values.astype("string").str.strip().str.lower()
    is_true, is_false = text.isin(_TRUE), text.isin(_FALSE)
    bad = text.notna() & ~is_true & ~is_false
    if bad.any():
        position, example = _first_bad(values, bad)
        raise SchemaMismatch(
            f"{source}: column {name!r} must be true/false, but row {position + 1} holds {example!r}",
            column=name,
            row=position + 1,
        )
    return np.where(is_true, 1.0, np.where(is_false, 0.0, np.nan))


def _to_datetime(values: pd.Series, name: str, source: str) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    bad = stamps.isna() & values.notna()
    if bad.any():
        position, example = _first_bad(values, bad)
        raise SchemaMismatch(
            f"{source}: column {name!r} must hold dates, but row {position + 1} holds {example!r}",
            column=name,
            row=position + 1,
        )
    return stamps
