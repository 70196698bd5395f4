"""Where drift reads a column from: a Parquet file (pyarrow, one column at a time, no frame),
a pandas frame (CSV/JSONL through lathe's reader), or a model's training profile.

Every source answers `columns`, `rows`, `kind(name)` — the column type Evidently 0.7 infers
(`infer_column_type`: floats are numeric; integers numeric unless at most 10 distinct values;
bool and pandas categories categorical; strings text when more than half the non-missing
values are distinct, else categorical; datetimes and the rest are not tested) — and
`sample(name, kind)`: the column's `Sample` with missing (and infinite) values removed,
plus its missing count.

>>> import pandas as pd
>>> src = FrameSource(pd.DataFrame({"x": [0.5, 1.5, None], "n": [1, 2, 2]}), "demo")
>>> src.kind("x"), src.kind("n"), src.rows
('numeric', 'categorical', 3)
>>> sample, missing = src.sample("x", "numeric"); sample.values.tolist(), missing
([0.5, 1.5], 1)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lathe.errors import DataError
from lathe.monitoring.drift import Sample

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Source", "FrameSource", "ParquetSource", "ProfileSource", "open_source",
           "INTEGER_CARDINALITY_LIMIT"]

INTEGER_CARDINALITY_LIMIT = 10


class Source(Protocol):
    name: str
    columns: list[str]
    rows: int

    def kind(self, column: str) -> str: ...

    def sample(self, column: str, kind: str) -> tuple[Sample, int]: ...


def _kind_of(storage: str, nunique: int, present: int) -> str:
    if storage == "float":
        return "numeric"
    if storage == "int":
        return "categorical" if nunique <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if storage in ("bool", "category"):
        return "categorical"
    if storage == "string":
        return "text" if nunique > present * 0.5 else "categorical"
    return storage  # datetime / other: not tested


def _not_numeric(source: str, column: str) -> DataError:
    return DataError(
        f"{source}: column {column!r} is not numeric here but numeric in the other data",
        hint="make both files store the column with the same type", column=column)


class FrameSource:
    """A pandas frame (read from CSV/JSONL/Parquet by lathe's reader)."""

    def __init__(self, frame: pd.DataFrame, name: str) -> None:
        self.frame, self.name = frame, name
        self.columns = [str(c) for c in frame.columns]
        self.rows = len(frame)

    def kind(self, column: str) -> str:
        from lathe.data.profile import storage_type

        values = self.frame[column]
        storage = storage_type(values)
        if storage not in ("int", "string"):
            return _kind_of(storage, 0, 0)
        return _kind_of(storage, int(values.nunique()), int(values.count()))

    def sample(self, column: str, kind: str) -> tuple[Sample, int]:
        import pandas as pd

        values = self.frame[column]
        if kind == "numeric":
            if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
                raise _not_numeric(self.name, column)
            arr = values.to_numpy(dtype=float, na_value=np.nan)
            sample = Sample.numeric(arr)
            return sample, self.rows - sample.n
        present = values.dropna()
        if kind == "text":
            return Sample.text([str(t) for t in present]), self.rows - len(present)
        counts = present.value_counts()
        keys = [k.item() if isinstance(k, np.generic) else k for k in counts.index]
        return Sample.categorical(keys, counts.to_numpy()), self.rows - len(present)


def _numbers(data: Any, dtype: Any = float) -> np.ndarray:
    """A numeric Arrow array (chunked or not; nulls become NaN) as one NumPy array, viewed
    from its buffers: pyarrow's own `to_numpy` imports pandas (0.2 s) on first use."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for chunk in getattr(data, "chunks", [data]):
        if chunk.null_count:
            chunk = pc.fill_null(pc.cast(chunk, pa.float64()), float("nan"))
        kind = "float" if pa.types.is_floating(chunk.type) else (
            "int" if pa.types.is_signed_integer(chunk.type) else "uint")
        width = np.dtype(f"{kind}{chunk.type.bit_width}")
        parts.append(np.frombuffer(chunk.buffers()[1], dtype=width, count=len(chunk),
                                   offset=chunk.offset * width.itemsize))
    if not parts:
        return np.empty(0, dtype=dtype)
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(dtype, copy=False)


class ParquetSource:
    """A Parquet file read one column at a time with pyarrow (no pandas frame): memory-mapped,
    text columns kept dictionary-encoded (counted without building a string per row)."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.name, self._path = str(path), path
        try:
            schema = pq.ParquetFile(path).schema_arrow
            self.rows = int(pq.ParquetFile(path).metadata.num_rows)
        except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
            raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})",
                            hint="write it again with pandas or pyarrow", file=str(path)) from None
        self.columns = [str(c) for c in schema.names]
        self._types = {str(f.name): f.type for f in schema}
        self._strings = [n for n, t in self._types.items()
                         if pa.types.is_string(t) or pa.types.is_large_string(t)]
        self._local = threading.local()  # per thread: a reader and the one column it holds

    def _read(self, column: str) -> dict[str, Any]:
        held = getattr(self._local, "held", None)
        if held is None or held["name"] != column:
            self._local.held = None  # one column per thread in memory at a time
            reader = getattr(self._local, "reader", None)
            if reader is None:  # ParquetFile is not shared across threads
                import pyarrow.parquet as pq

                reader = self._local.reader = pq.ParquetFile(
                    self._path, memory_map=True, read_dictionary=self._strings)
            held = self._local.held = {
                "name": column, "data": reader.read(columns=[column], use_threads=False).column(0)}
        return held

    def _storage(self, column: str, data: Any) -> str:
        import pyarrow as pa

        t = self._types[column]
        if pa.types.is_dictionary(t):
            return "category"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_integer(t):
            return "float" if data.null_count else "int"  # pandas reads it as float64
        if pa.types.is_floating(t):
            return "float"
        if column in self._strings or pa.types.is_string_view(t):
            return "string"
        if pa.types.is_temporal(t):
            return "datetime"
        return "other"

    def _counts(self, held: dict[str, Any]) -> tuple[list[Any], np.ndarray]:
        if "counts" not in held:
            import pyarrow.compute as pc

            counted = pc.value_counts(held["data"])
            keys = counted.field("values").to_pylist()
            counts = _numbers(counted.field("counts"), dtype=np.int64)
            keep = [i for i, k in enumerate(keys) if k is not None and k == k]
            held["counts"] = ([keys[i] for i in keep], counts[keep])
        return held["counts"]

    def kind(self, column: str) -> str:
        held = self._read(column)
        storage = self._storage(column, held["data"])
        if storage not in ("int", "string"):
            return _kind_of(storage, 0, 0)
        keys, counts = self._counts(held)
        return _kind_of(storage, len(keys), int(counts.sum()))

    def sample(self, column: str, kind: str) -> tuple[Sample, int]:
        held = self._read(column)
        data = held["data"]
        if kind == "numeric":
            if self._storage(column, data) not in ("int", "float"):
                raise _not_numeric(self.name, column)
            sample = Sample.numeric(_numbers(data))
            return sample, self.rows - sample.n
        if kind == "text":
            texts = [t for t in data.to_pylist() if t is not None]
            return Sample.text([str(t) for t in texts]), self.rows - len(texts)
        keys, counts = self._counts(held)
        return Sample.categorical(keys, counts), self.rows - int(counts.sum())


class ProfileSource:
    """A model's training reference, kept in its manifest as a profile (lathe.data.profile)."""

    def __init__(self, profile: dict[str, Any], name: str) -> None:
        self.profile, self.name = profile, name
        self.columns = list(profile["columns"])
        self.rows = int(profile["rows"])

    def kind(self, column: str) -> str:
        col = self.profile["columns"][column]
        return _kind_of(col["dtype"], col["nunique"], col["rows"] - col["missing"])

    def sample(self, column: str, kind: str) -> tuple[Sample, int]:
        col = self.profile["columns"][column]
        present = col["rows"] - col["missing"]
        counts = col.get("counts")
        pairs = (None if counts is None else ([k for k, _ in counts], [c for _, c in counts]))
        if kind == "numeric":
            if col["dtype"] not in ("int", "float"):
                raise _not_numeric(self.name, column)
            points = col.get("values", col.get("quantiles"))
            sample = Sample.numeric(np.asarray(points, dtype=float), n=present, presorted=True,
                                    counts=pairs)
            sample.extra["std"] = col.get("std")
            return sample, col["missing"]
        if kind == "text":
            if "texts" not in col:
                raise DataError(f"{self.name}: the training profile keeps no texts of column "
                                f"{column!r}", hint="compare against the training data file",
                                column=column)
            return Sample.text(col["texts"]), col["missing"]
        if pairs is None and col["dtype"] in ("int", "float"):
            pairs = _counts_from_points(col, present)
        if pairs is None:
            raise DataError(f"{self.name}: the training profile keeps no category counts of "
                            f"column {column!r} ({col['nunique']} distinct values)",
                            hint="compare against the training data file", column=column)
        return Sample.categorical(*pairs), col["missing"]


def _counts_from_points(col: dict[str, Any], present: int) -> tuple[list[Any], list[int]]:
    """Category counts of a numeric column the profile keeps as values or mid-quantiles
    (each point standing for an equal share of the rows): exact for exact values, a sketch
    otherwise — what an older profile, or one of a column with many values, can say when a
    window of current data takes few enough values to be tested as categories."""
    points = np.asarray(col.get("values", col.get("quantiles")) or [], dtype=float)
    keys, hits = np.unique(points, return_counts=True)
    share = hits / max(len(points), 1)
    counts = np.maximum(np.round(share * present), 1).astype(int)
    plain = [int(k) if col["dtype"] == "int" and float(k).is_integer() else float(k)
             for k in keys]
    return plain, counts.tolist()


def open_source(ref: str, *, store: str | None = None, log: dict[str, Any] | None = None
                ) -> tuple[Source, Any]:
    """A data file (Parquet read by column, other formats through lathe's reader), `log:URL`
    (the prediction log, filtered by `log` = {model, since, until}) or a model (its training
    profile); returns the source and the loaded model (or None)."""
    from lathe.monitoring.logsource import is_log_ref, read_log

    if is_log_ref(ref):
        return FrameSource(read_log(ref, **(log or {})), ref), None
    path = Path(ref)
    if path.is_file():
        if path.suffix.lower() == ".parquet" and path.stat().st_size > 0:
            return ParquetSource(path), None  # read by column: no pandas imported
        from lathe.data.load import read_table

        return FrameSource(read_table(path), str(path)), None
    from lathe.registry.refs import load_model

    model = load_model(ref, store=store)
    profile = model.manifest.get("reference_profile")
    if not profile:
        raise DataError(f"{ref}: this model's artifact keeps no training profile (it was "
                        "trained before lathe kept one)",
                        hint="pass the training data file as REFERENCE instead", model=ref)
    return ProfileSource(profile, f"{ref} (training profile)"), model
