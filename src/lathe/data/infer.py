"""Infer a `Schema` from a training frame: column roles, the label's task and classes.

Rules, in order, for each non-label column:
  explicitly dropped → dropped; all missing → error (nothing to learn, ask the user);
  one distinct value → dropped (constant); bool dtype or two values like yes/no → boolean;
  numeric dtype → numeric, unless it looks like a row id (integers, all distinct, named *id*
  or strictly increasing) → dropped; strings that parse as dates → datetime; long multi-word
  strings → text; strings distinct on every row with no spaces → dropped (an id);
  everything else → categorical.

>>> import pandas as pd
>>> frame = pd.DataFrame({"id": range(30), "age": [20, 30, 40, 50, 60] * 6,
...                       "city": list("ab") * 15, "y": ["no", "yes", "no"] * 10})
>>> schema = infer_schema(frame, target="y")
>>> schema.task, schema.classes, [(c.name, c.kind) for c in schema.columns], schema.dropped
('binary', ['no', 'yes'], [('age', 'numeric'), ('city', 'categorical')], {'id': 'looks like a row id (all distinct integers)'})
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from lathe.data.schema import Column, Schema, Task, _as_str
from lathe.errors import ConfigError, DataError, UsageError, did_you_mean

__all__ = ["infer_schema", "infer_task", "task_note", "encode_labels", "detect_language",
           "column_language", "cjk_rows",
           "declare_positive_class"]

MAX_CLASSES_FOR_INTEGER_LABEL = 20
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ID_NAME = re.compile(r"(^|_|\b)(id|uuid|guid|key|index)$|^(id|uuid)_|^unnamed", re.I)


def detect_language(sample: Iterable[str]) -> str:
    """'zh' when most characters of letters are CJK, else 'en' (what the tokenizers need)."""
    text = "".join(sample)[:20_000]
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if letters and cjk / letters > 0.3 else "en"


def cjk_rows(texts: Iterable[str]) -> np.ndarray:
    """Per text: are most of its letters CJK (the rows char n-grams suit)?

    >>> cjk_rows(["房间很干净", "clean room", "WiFi很快"]).tolist()
    [True, False, True]
    """
    out = []
    for text in texts:
        letters = sum(ch.isalpha() for ch in text)
        out.append(bool(letters) and len(_CJK.findall(text)) / letters > 0.3)
    return np.asarray(out, dtype=bool)


def column_language(sample: Iterable[str]) -> str:
    """'zh', 'en', or 'mixed' when at least 10 % of the rows are Chinese and at least 10 %
    are not (each language then gets its own features: `models._text_features`).

    >>> column_language(["房间很干净", "clean room", "quiet and nice"] * 5)
    'mixed'
    >>> column_language(["clean room"] * 20 + ["房间很干净"])
    'en'
    """
    texts = [str(t) for t in sample]
    share = float(cjk_rows(texts).mean()) if texts else 0.0
    if 0.1 <= share <= 0.9:
        return "mixed"
    return detect_language(texts)


def infer_task(label: pd.Series, task: str | None = None, *, source: str = "data") -> Task:
    """binary / multiclass / regression from the label values (or check a given task)."""
    values = label.dropna()
    if values.empty:
        raise DataError(
            f"{source}: the label column {label.name!r} is empty", column=str(label.name)
        )
    n_unique = values.nunique()
    if task is not None:
        if task not in ("binary", "multiclass", "regression"):
            raise UsageError(f"unknown task {task!r}", hint="use binary, multiclass or regression")
        if task != "regression" and n_unique < 2:
            _one_class(label, values, source)
        if task == "binary" and n_unique > 2:
            raise DataError(
                f"{source}: task is binary but {label.name!r} has {n_unique} classes",
                hint="use --task multiclass",
            )
        if task == "regression" and not pd.api.types.is_numeric_dtype(values.dtype):
            if pd.to_numeric(values, errors="coerce").isna().any():
                raise DataError(f"{source}: task is regression but {label.name!r} is not numeric")
        return task  # type: ignore[return-value]
    if n_unique < 2:
        _one_class(label, values, source)
    if pd.api.types.is_bool_dtype(values.dtype) or n_unique == 2:
        return "binary"
    if pd.api.types.is_float_dtype(values.dtype):
        whole = bool((values == np.round(values)).all())
        if not whole:
            return "regression"
    if pd.api.types.is_numeric_dtype(values.dtype):
        few = n_unique <= MAX_CLASSES_FOR_INTEGER_LABEL and n_unique <= len(values) / 20
        return "multiclass" if few else "regression"
    return "multiclass"


def task_note(label: pd.Series, task: str) -> str:
    """Why `infer_task` chose `task` for this label, and how to choose otherwise.

    >>> task_note(pd.Series([1, 2, 3, 4, 5, 6, 7] * 30, name="stars"), "multiclass")
    "multiclass: 'stars' holds 7 whole numbers, read as classes (if they count or measure something, pass task='regression')"
    >>> task_note(pd.Series(["yes", "no"], name="y"), "binary")
    "binary: 'y' holds 2 values"
    """
    values = label.dropna()
    n_unique = int(values.nunique())
    name = label.name
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype)
    if task == "multiclass" and numeric:
        return (f"multiclass: {name!r} holds {n_unique} whole numbers, read as classes (if they "
                "count or measure something, pass task='regression')")
    if task == "regression":
        return f"regression: {name!r} holds {n_unique} distinct numbers"
    return f"{task}: {name!r} holds {n_unique} values"


def _one_class(label: pd.Series, values: pd.Series, source: str) -> None:
    only = values.iloc[0]
    only = only.item() if isinstance(only, np.generic) else only  # 1, not np.int64(1)
    raise DataError(
        f"{source}: the label {label.name!r} has only one class ({only!r}) — "
        "there is nothing to learn",
        hint="check the file holds examples of every outcome",
        column=str(label.name),
    )


def encode_labels(label: pd.Series, schema: Schema, *, source: str = "data") -> np.ndarray:
    """Class indices (classification) or floats (regression); unknown classes are an error."""
    if not schema.is_classification:
        return pd.to_numeric(label, errors="coerce").astype("float64").to_numpy()
    classes = [str(c) for c in schema.classes or []]
    text = _as_str(label)
    lookup = {c: i for i, c in enumerate(classes)}
    codes = text.map(lookup)
    bad = codes.isna() & text.notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source}: row {position + 1} has label {label.iloc[position]!r}, which is not one of "
            f"the model's classes {classes[:10]}",
            column=str(label.name),
            row=position + 1,
        )
    if codes.isna().any():
        position = int(np.flatnonzero(codes.isna().to_numpy())[0])
        raise DataError(f"{source}: row {position + 1} has no label", column=str(label.name))
    return codes.astype("int64").to_numpy()


def declare_positive_class(schema: Schema, declared: Any | None, *,
                           option: str = "--positive-class") -> Schema:
    """Record the binary positive class on `schema`: `declared`, or the second sorted class.

    Plain precision/recall/f1 describe it (`lathe.evaluation.metrics`). A declared class
    must be one of the label's classes, and only a binary label has one.

    >>> schema = Schema([], target="y", task="binary", classes=["no", "yes"])
    >>> declare_positive_class(schema, None).positive_class
    'yes'
    >>> declare_positive_class(schema, "no").positive_index
    0
    """
    if schema.task != "binary":
        if declared is not None:
            raise ConfigError(
                f"{option} {declared!r} needs a binary label; {schema.target!r} is "
                f"{schema.task}", hint=f"drop {option}", field="data.positive_class")
        schema.positive_class = None
        return schema
    classes = [str(c) for c in schema.classes or []]
    if declared is None:
        schema.positive_class = classes[1]
        return schema
    if str(declared) not in classes:
        raise ConfigError(
            f"{option} {declared!r} is not a class of {schema.target!r} (classes: "
            f"{', '.join(map(repr, classes))})",
            hint=did_you_mean(str(declared), classes), field="data.positive_class")
    schema.positive_class = str(declared)
    return schema


def _classes(label: pd.Series) -> list[Any]:
    text = _as_str(label.dropna())
    uniques = sorted(set(text.dropna()))
    numeric = pd.to_numeric(pd.Series(uniques), errors="coerce")
    if numeric.notna().all():  # sort 2 before 10
        uniques = [u for _, u in sorted(zip(numeric, uniques, strict=True))]
    return uniques


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.dropna().head(500)
    if sample.empty or not sample.str.contains(r"\d", regex=True).all():
        return False
    if not sample.str.contains(r"[-/:.]", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.95)


def infer_schema(
    frame: pd.DataFrame,
    target: str | None,
    *,
    task: str | None = None,
    text_columns: Iterable[str] = (),
    categorical_columns: Iterable[str] = (),
    drop_columns: Iterable[str] = (),
    source: str = "data",
) -> Schema:
    names = [str(c) for c in frame.columns]
    for option, given in (
        ("--text", text_columns),
        ("--categorical", categorical_columns),
        ("--drop", drop_columns),
    ):
        for name in given:
            if name not in names:
                raise UsageError(
                    f"{option}: {source} has no column {name!r}; {did_you_mean(name, names)}",
                    column=name,
                )
    if target is not None and target not in names:
        raise UsageError(
            f"{source} has no column {target!r}; {did_you_mean(target, names)}",
            hint="pass --target with one of the file's columns",
            column=target,
        )
    forced_text, forced_cat, forced_drop = (
        set(text_columns),
        set(categorical_columns),
        set(drop_columns),
    )
    classes: list[Any] | None = None
    resolved_task: Task | None = None
    if target is not None:
        label = frame[target]
        resolved_task = infer_task(label, task, source=source)
        if resolved_task != "regression":
            classes = _classes(label)
    schema = Schema(columns=[], target=target, task=resolved_task, classes=classes)
    n_rows = len(frame)
    for name in names:
        if name == target:
            continue
        values = frame[name]
        missing = float(values.isna().mean())
        if name in forced_drop:
            schema.dropped[name] = "dropped on request"
            continue
        if missing == 1.0:
            raise DataError(
                f"{source}: column {name!r} is empty on every row",
                hint=f"drop it (--drop {name}, or data.drop_columns in lathe.yaml) or fill it",
                column=name,
            )
        n_unique = int(values.nunique(dropna=True))
        if name in forced_text:
            schema.columns.append(_text_column(name, values, missing))
            continue
        if name in forced_cat:
            schema.columns.append(_categorical(name, values, missing))
            continue
        if n_unique <= 1:
            schema.dropped[name] = "constant (one distinct value)"
            continue
        if pd.api.types.is_bool_dtype(values.dtype):
            schema.columns.append(
                Column(name, "boolean", str(values.dtype), missing_fraction=missing)
            )
            continue
        if pd.api.types.is_numeric_dtype(values.dtype):
            if _is_row_id(name, values, n_unique, n_rows):
                schema.dropped[name] = "looks like a row id (all distinct integers)"
                continue
            schema.columns.append(
                Column(name, "numeric", str(values.dtype), missing_fraction=missing)
            )
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            schema.columns.append(
                Column(name, "datetime", str(values.dtype), missing_fraction=missing)
            )
            continue
        text = values.dropna().astype(str).str.strip()
        lowered = set(text.str.lower().unique())
        if n_unique == 2 and lowered <= {"true", "false", "yes", "no", "y", "n", "t", "f"}:
            schema.columns.append(
                Column(name, "boolean", str(values.dtype), missing_fraction=missing)
            )
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all():  # numbers stored as strings (JSON, quoted CSV)
            schema.columns.append(Column(name, "numeric", "float64", missing_fraction=missing))
            schema.notes.append(f"column {name!r} holds numbers stored as text; read as numeric")
            continue
        if _looks_like_dates(text):
            schema.columns.append(
                Column(name, "datetime", str(values.dtype), missing_fraction=missing)
            )
            continue
        if _is_text(text, n_unique):
            schema.columns.append(_text_column(name, values, missing))
            continue
        if n_unique == len(text) and n_unique > 50 and not text.str.contains(" ").any():
            schema.dropped[name] = "looks like an id (distinct on every row)"
            continue
        column = _categorical(name, values, missing)
        if n_unique > 1000:
            schema.notes.append(f"column {name!r} has {n_unique} categories (high cardinality)")
        schema.columns.append(column)
    if not schema.columns:
        raise DataError(
            f"{source}: no usable feature columns (dropped: {schema.dropped or 'none'})",
            hint="check the file has input columns besides the label",
        )
    for name, reason in schema.dropped.items():
        schema.notes.append(f"dropped column {name!r}: {reason}")
    return schema


def _is_row_id(name: str, values: pd.Series, n_unique: int, n_rows: int) -> bool:
    if not pd.api.types.is_integer_dtype(values.dtype) or n_unique != n_rows or n_rows < 20:
        return False
    return bool(_ID_NAME.search(name)) or bool(values.is_monotonic_increasing)


def _is_text(text: pd.Series, n_unique: int) -> bool:
    sample = text.head(2000)
    if sample.empty:
        return False
    words = sample.str.split().str.len().mean()
    cjk_long = sample.str.len().mean() >= 12 and column_language(sample.head(200)) in (
        "zh", "mixed")
    distinct = n_unique / max(len(text), 1)
    return bool((words >= 4 or cjk_long) and distinct > 0.3)


def _text_column(name: str, values: pd.Series, missing: float) -> Column:
    texts = values.dropna().astype(str)
    if len(texts) > 500:  # spread over the column: a file sorted by language is still mixed
        texts = texts.iloc[np.linspace(0, len(texts) - 1, 500).astype(int)]
    language = column_language(texts)
    return Column(name, "text", str(values.dtype), missing_fraction=missing, language=language)


def _categorical(name: str, values: pd.Series, missing: float) -> Column:
    cats = sorted(set(_as_str(values).dropna()))
    return Column(name, "categorical", str(values.dtype), categories=cats, missing_fraction=missing)
