"""Read outcome rows from a CSV or Parquet file: only the columns the analysis needs.

pyarrow reads the file (multi-threaded, only the named columns), the variant column is
dictionary-encoded into integer codes, metrics become float arrays. A metric column must be
boolean or numeric; its kind is a proportion when every value is 0/1 (or true/false), else a
mean; ``clicks/sessions`` (two columns, no column of that name) is a ratio metric.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ab.csv")
>>> _ = Path(path).write_text("group,converted\\na,1\\nb,0\\na,0\\n")
>>> data = read_outcomes(path, variant="group", metrics=["converted"])
>>> data.names, data.metrics["converted"].kind
(['a', 'b'], 'proportion')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lathe.errors import DataError, NotFound, did_you_mean
from lathe.experiments.analysis import Metric

__all__ = ["Outcomes", "read_outcomes", "outcomes_from_table"]


@dataclass
class Outcomes:
    codes: np.ndarray
    names: list[str]
    metrics: dict[str, Metric] = field(default_factory=dict)
    covariate: np.ndarray | None = None
    dropped: int = 0  # rows without a variant or a metric value


def _read_table(path: Path, columns: list[str]):
    import pyarrow as pa

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path, columns=columns)
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=columns, strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as err:
        raise DataError(f"cannot read {path}: {str(err).splitlines()[0]}",
                        hint="pass a CSV (with a header row) or a Parquet file",
                        path=str(path)) from err


def _header(path: Path) -> list[str]:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def read_outcomes(path: str | os.PathLike[str], *, variant: str, metrics: list[str],
                  covariate: str | None = None, kinds: dict[str, str] | None = None) -> Outcomes:
    """The variant codes, one Metric per name and the covariate, from FILE."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"outcome file {file} does not exist",
                       hint="pass the CSV or Parquet file with one row per unit")
    header = _header(file)
    ratio_parts = {m: m.split("/", 1) for m in metrics if "/" in m and m not in header}
    columns = list(dict.fromkeys(
        [variant] + [c for m in metrics for c in ratio_parts.get(m, [m])]
        + ([covariate] if covariate else [])))
    for col in columns:
        if col not in header:
            raise DataError(f"{file}: no column {col!r}; {did_you_mean(col, header)}",
                            hint="name a column of the file", column=col)
    table = _read_table(file, columns)
    return outcomes_from_table(table, file.name, variant=variant, metrics=metrics,
                               ratio_parts=ratio_parts, covariate=covariate, kinds=kinds)


def outcomes_from_table(table, source: str, *, variant: str, metrics: list[str],
                        ratio_parts: dict[str, list[str]], covariate: str | None,
                        kinds: dict[str, str] | None = None) -> Outcomes:
    """Codes and metric arrays from a pyarrow Table; rows missing any value are dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = pc.is_valid(table.column(variant))
    for name in table.column_names:
        if name != variant:
            valid = pc.and_(valid, pc.is_valid(table.column(name)))
    kept = table.filter(valid) if table.num_rows else table
    dropped = table.num_rows - kept.num_rows
    if kept.num_rows == 0:
        raise DataError(f"{source}: no row has both a variant and every metric value",
                        hint="check the variant and metric columns")
    encoded = kept.column(variant).cast(pa.string()).dictionary_encode().combine_chunks()
    codes = _as_numpy(encoded.indices, pa.int64()).astype(np.intp)
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    out = Outcomes(codes=codes, names=names, dropped=dropped)
    for metric in metrics:
        if metric in ratio_parts:
            num, den = ratio_parts[metric]
            out.metrics[metric] = Metric(_numeric(kept, num, source), "ratio",
                                         denominator=_numeric(kept, den, source))
            continue
        values = _numeric(kept, metric, source)
        binary = bool(np.all((values == 0) | (values == 1)))
        kind = (kinds or {}).get(metric) or ("proportion" if binary else "mean")
        if kind == "proportion" and not binary:
            raise DataError(f"{source}: metric {metric!r} has values other than 0/1, so it is "
                            "not a proportion", hint="use --metric-kind mean", column=metric)
        out.metrics[metric] = Metric(values, kind)
    if covariate:
        out.covariate = _numeric(kept, covariate, source)
    return out


def _as_numpy(values, kind) -> np.ndarray:
    """A null-free pyarrow (chunked) array as a numpy copy, read from its data buffer:
    pyarrow's own ``to_numpy`` imports pandas, a third of a million-row CLI run."""
    import pyarrow as pa

    array = values.cast(kind)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    dtype = np.dtype(np.int64 if kind == pa.int64() else np.float64)
    data = np.frombuffer(array.buffers()[1], dtype=dtype)
    return data[array.offset: array.offset + len(array)].copy()


def _numeric(table, column: str, source: str) -> np.ndarray:
    import pyarrow as pa

    col = table.column(column)
    kind = col.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = _as_numpy(col, pa.float64())
        if not np.all(np.isfinite(values)):
            raise DataError(f"{source}: column {column!r} holds infinite or NaN values",
                            hint="drop or fix those rows", column=column)
        return values
    sample = col.drop_null().slice(0, 3).to_pylist()
    raise DataError(f"{source}: column {column!r} is {kind}, not numeric or boolean "
                    f"(e.g. {', '.join(map(repr, sample))})",
                    hint="pass a 0/1, true/false or numeric metric column", column=column)

