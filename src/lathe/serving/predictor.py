"""A loaded artifact behind the server: validate JSON rows, predict, shape the answer.

Two paths give the same numbers (a test holds them to it):

* the *native fast path* for LightGBM models on numeric/boolean/categorical columns encodes
  JSON rows straight into a float matrix (categories as the booster's own codes) and calls the
  booster on one thread: ~0.05 ms per row, where building a DataFrame, `Schema.conform` and
  pandas-categorical prediction cost ~20 ms per request (measured on Adult);
* the *general path* builds a DataFrame and goes through `Schema.conform` and the family's
  `predict_raw`, for every other family and for text or datetime columns.

Validation is the same contract on both paths: a row that is not an object, a missing field
or a value of the wrong type is a `SchemaMismatch` (HTTP 422) naming the row (1-based, as in
`Schema.conform`) and the field. Unseen categories and nulls are allowed (treated as missing).

>>> rows_of({"rows": [{"a": 1}]})
[{'a': 1}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lathe.errors import SchemaMismatch, UsageError

__all__ = ["Predictor", "Prepared", "rows_of", "load_predictor"]

_NAN = float("nan")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def rows_of(body: Any) -> list[Any]:
    """The `rows` list of a request body, or a UsageError saying what shape is expected."""
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise SchemaMismatch(
            'the request body must be a JSON object {"rows": [{field: value, ...}, ...]}',
            hint="wrap your rows in a list under the key 'rows'",
        )
    return rows


@dataclass
class Prepared:
    """Validated input for one model call: a float matrix (native path) or the rows."""

    data: Any
    n: int


def _bad(row: int, field: str, expected: str, value: Any) -> SchemaMismatch:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return SchemaMismatch(
        f"row {row}: field {field!r} must be {expected}, got {shown}",
        hint="fix the value or send null for a missing value",
        row=row,
        field=field,
    )


def _number(value: Any, row: int, field: str) -> float:
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return float(value)
    if value is None:
        return _NAN
    if kind is str:
        text = value.strip()
        if not text:
            return _NAN
        try:
            return float(text)
        except ValueError:
            pass
    raise _bad(row, field, "a number", value)


def _boolean(value: Any, row: int, field: str) -> float:
    kind = type(value)
    if kind is bool or kind is int or kind is float:
        return float(value)
    if value is None:
        return _NAN
    if kind is str:
        text = value.strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        if not text:
            return _NAN
    raise _bad(row, field, "true or false", value)


def _category_key(value: Any, row: int, field: str) -> str | None:
    """The text form `Schema.conform` compares categories by (1, 1.0 and "1" agree)."""
    kind = type(value)
    if kind is str:
        return value.strip()
    if value is None:
        return None
    if kind is int or kind is bool:
        return str(value)
    if kind is float:
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    raise _bad(row, field, "a category (text or number)", value)


class _NativeGBM:
    """Encodes JSON rows straight into the matrix of the family's fast path (`MatrixPath`,
    LightGBM's today); `None` from `build` means the family has none."""

    def __init__(self, predict: Any, steps: list[tuple[str, str, dict[str, int] | None]]) -> None:
        self.predict_matrix = predict
        self.steps = steps

    @classmethod
    def build(cls, model: Any) -> _NativeGBM | None:
        path = model.family.matrix_path()
        if path is None:
            return None
        steps = [(c.name, c.kind, path.codes.get(c.name)) for c in model.schema.columns]
        return cls(path.predict, steps)

    def encode(self, rows: list[Any]) -> np.ndarray:
        out = np.empty((len(rows), len(self.steps)), dtype=np.float64)
        for i, row in enumerate(rows):
            if type(row) is not dict:
                raise SchemaMismatch(
                    f"row {i + 1} must be a JSON object of field: value, got {type(row).__name__}",
                    row=i + 1,
                )
            for j, (name, kind, table) in enumerate(self.steps):
                try:
                    value = row[name]
                except KeyError:
                    raise _missing(i + 1, name) from None
                if table is not None:
                    key = _category_key(value, i + 1, name)
                    out[i, j] = _NAN if key is None else table.get(key, _NAN)
                elif kind == "numeric":
                    out[i, j] = _number(value, i + 1, name)
                else:
                    out[i, j] = _boolean(value, i + 1, name)
        return out

    def predict(self, X: np.ndarray, task: str) -> np.ndarray:
        return self.predict_matrix(X)


def _missing(row: int, field: str) -> SchemaMismatch:
    return SchemaMismatch(
        f"row {row}: missing field {field!r}",
        hint="send every field the model was trained on (null is allowed for a missing value)",
        row=row,
        field=field,
    )


class Predictor:
    """One loaded version of one model. Thread-safe after construction (see ModelFamily)."""

    def __init__(self, name: str, version: str, model: Any, *, native: bool = True) -> None:
        self.name, self.version, self.model = name, version, model
        self.schema = model.schema
        self.task: str = model.task
        self.classes = [_plain(c) for c in (model.classes or [])]
        self._class_keys = [str(c) for c in self.classes]
        # a binary model's saved decision threshold (lathe evaluate --costs --save-threshold)
        threshold = (model.manifest.get("decision") or {}).get("threshold")
        self._decision = None if threshold is None or self.task != "binary" else (
            model.schema.positive_index, float(threshold))
        self.native = _NativeGBM.build(model) if native else None

    @property
    def path(self) -> Path | None:
        return self.model.path

    # ---- the three steps of a request -----------------------------------------------------
    def prepare(self, rows: list[Any]) -> Prepared:
        """Validate (cheap: runs on the event loop for small requests) and, on the native path,
        encode. The general path keeps the rows: `Schema.conform` runs once per model call,
        over every request of a batch, in a worker thread."""
        if not rows:
            raise UsageError("'rows' is empty", hint="send at least one row")
        if self.native is not None:
            return Prepared(self.native.encode(rows), len(rows))
        names = self.schema.feature_names
        for i, row in enumerate(rows):
            if type(row) is not dict:
                raise SchemaMismatch(f"row {i + 1} must be a JSON object", row=i + 1)
            for name in names:
                if name not in row:
                    raise _missing(i + 1, name)
        return Prepared(rows, len(rows))

    def combine(self, parts: list[Prepared]) -> Prepared:
        if len(parts) == 1:
            return parts[0]
        total = sum(p.n for p in parts)
        if self.native is not None:
            return Prepared(np.vstack([p.data for p in parts]), total)
        return Prepared([row for p in parts for row in p.data], total)

    def predict_raw(self, prepared: Prepared) -> np.ndarray:
        """Blocking model call (run it in a worker thread)."""
        if self.native is not None:
            return self.native.predict(prepared.data, self.task)
        import pandas as pd

        frame, _ = self.schema.conform(pd.DataFrame(prepared.data), source="request")
        return self.model.family.predict_raw(frame)

    def predict_many(self, parts: list[Prepared]) -> list[np.ndarray | Exception]:
        """One model call for several requests; a request whose rows fail validation gets its
        own error (row numbers relative to that request) and does not fail the others."""
        try:
            raw = self.predict_raw(self.combine(parts))
        except SchemaMismatch:
            if len(parts) == 1:
                raise
            out: list[np.ndarray | Exception] = []
            for part in parts:  # rare: find the offending request(s)
                try:
                    out.append(self.predict_raw(part))
                except SchemaMismatch as error:
                    out.append(error)
            return out
        results: list[np.ndarray | Exception] = []
        start = 0
        for part in parts:
            results.append(raw[start : start + part.n])
            start += part.n
        return results

    def format(self, raw: np.ndarray) -> list[dict[str, Any]]:
        if self.task == "regression":
            return [{"value": float(v)} for v in raw]
        keys, classes = self._class_keys, self.classes
        out = []
        for probs in raw.tolist():
            if self._decision is not None:
                pos, threshold = self._decision
                best = pos if probs[pos] >= threshold else 1 - pos
            else:
                best = max(range(len(probs)), key=probs.__getitem__)
            out.append(
                {"label": classes[best], "probabilities": dict(zip(keys, probs, strict=True))}
            )
        return out

    def predict_rows(self, rows: list[Any]) -> list[dict[str, Any]]:
        """All three steps at once (the unbatched path; blocking)."""
        return self.format(self.predict_raw(self.prepare(rows)))

    # ---- description ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        manifest = self.model.manifest
        return {
            "name": self.name,
            "version": self.version,
            "family": manifest.get("family"),
            "task": self.task,
            "target": self.schema.target,
            "classes": self.classes,
            "native_fast_path": self.native is not None,
            "created_at": manifest.get("created_at"),
        }

    def schema_json(self) -> dict[str, Any]:
        fields = [
            {
                "name": c.name,
                "kind": c.kind,
                "categories": c.categories,
                "missing_fraction": c.missing_fraction,
            }
            for c in self.schema.columns
        ]
        return {**self.describe(), "fields": fields, "text_fields": self.schema.names_of("text")}

    def example_row(self) -> dict[str, Any]:
        """A row of nulls: valid for every schema (used to warm the model up)."""
        return dict.fromkeys(self.schema.feature_names)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_predictor(name: str, version: str, path: Path) -> Predictor:
    """Load (verifying hashes, and the signature under LATHE_TRUSTED_KEYS) and warm up with
    one prediction, so the first request is fast."""
    from lathe.model import Model
    from lathe.security.signing import check_artifact

    model = Model.load(path)
    check_artifact(path, label=f"{name} ({path})", manifest=model.manifest)
    predictor = Predictor(name, version, model)
    predictor.predict_rows([predictor.example_row()])
    return predictor
