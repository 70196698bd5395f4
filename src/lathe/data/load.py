"""Read CSV, Parquet and JSONL files into a DataFrame, with errors that name the file and line.

>>> import pandas as pd, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
>>> _ = path.write_text("a,b\\n1,x\\n2,y\\n")
>>> read_table(path).shape
(2, 2)
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from functools import partial
from pathlib import Path

import pandas as pd

from lathe.errors import DataError, NotFound, UsageError

__all__ = ["read_table", "write_table", "SUPPORTED_SUFFIXES", "table_format"]

SUPPORTED_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def table_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz", ".zst"):
        suffixes = suffixes[:-1]
    fmt = SUPPORTED_SUFFIXES.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise UsageError(
            f"{path}: cannot tell the file format from its name",
            hint="use a .csv, .tsv, .parquet or .jsonl file",
            file=str(path),
        )
    return fmt


def read_table(source: str | Path | pd.DataFrame, *, encoding: str | None = None) -> pd.DataFrame:
    """Load a table; a DataFrame is returned as a copy. Raises NotFound / DataError."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    if not path.exists():
        raise NotFound(f"{path}: no such file", hint="check the path", file=str(path))
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a data file", file=str(path))
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)", hint="export the data again", file=str(path))
    fmt = table_format(path)
    if fmt in ("csv", "tsv"):
        frame = _read_delimited(path, "\t" if fmt == "tsv" else None, encoding)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_jsonl(path, encoding)
    if frame.shape[0] == 0:
        raise DataError(
            f"{path} has a header but no data rows", hint="export the data again", file=str(path)
        )
    if frame.shape[1] == 0:
        raise DataError(f"{path} has no columns", file=str(path))
    _check_column_names(frame, path)
    return frame


def _check_column_names(frame: pd.DataFrame, path: Path) -> None:
    names = [str(c) for c in frame.columns]
    unnamed = [i + 1 for i, c in enumerate(names) if c.startswith("Unnamed: ") or c == ""]
    if unnamed and len(unnamed) == len(names):
        raise DataError(f"{path}: the header row has no column names", file=str(path))
    frame.columns = names
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise DataError(
            f"{path}: duplicate column names {dupes}", hint="rename them", file=str(path)
        )


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _decode(path: Path, encoding: str | None) -> tuple[str, str]:
    raw = path.read_bytes()
    enc = encoding or "utf-8-sig"
    try:
        return raw.decode(enc), enc
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = _guess_encoding(raw)
        hint = (
            f"it looks like {guess}: pass --encoding {guess} or convert it to UTF-8 "
            f"(iconv -f {guess} -t utf-8)"
            if guess
            else "convert it to UTF-8 or pass --encoding"
        )
        raise DataError(
            f"{path}: line {line} is not valid {enc.replace('-sig', '')} "
            f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint=hint,
            file=str(path),
            line=line,
        ) from None
    except LookupError:
        raise UsageError(
            f"unknown encoding {encoding!r}", hint="try utf-8, latin-1 or gb18030"
        ) from None


def _guess_encoding(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    return best.encoding if best is not None else None


_LINE_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_delimited(path: Path, sep: str | None, encoding: str | None) -> pd.DataFrame:
    text, _ = _decode(path, encoding)
    if not text.strip():
        raise DataError(f"{path} contains only whitespace", file=str(path))
    sep = sep or _sniff_delimiter(text[:20_000])
    # index_col=False: with pandas' default, data rows one field longer than the header
    # (a delimiter at the end of every line) made the first column the index and moved
    # every value one column left; pandas now drops the extra field and warns
    read = partial(pd.read_csv, sep=sep, skipinitialspace=True, low_memory=False,
                   index_col=False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = read(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} has no header and no rows", file=str(path)) from None
    except pd.errors.ParserError as exc:
        found = _LINE_RE.search(str(exc))
        if not found:
            raise DataError(f"{path}: not a readable CSV file ({exc})", file=str(path)) from None
        # pandas counts a quoted multi-line record as one line; the scan counts lines
        expected, line, saw = (int(g) for g in found.groups())
        long = _ragged_record(text, sep, "long")
        if long is None:  # the scan read the text otherwise: pandas' numbers
            raise _ragged_error(path, (line, saw, expected), LONG_HINT) from None
        with_values = _ragged_record(text, sep, "long-with-values")
        if with_values is not None:
            raise _ragged_error(path, with_values, LONG_HINT) from None
        # only empty fields beyond the header (a delimiter ending some rows): nothing is lost
        frame = read(io.StringIO(text), usecols=range(long[2]))
        caught = []
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        # extra fields that hold a value would be lost: refuse; empty ones are a trailing
        # delimiter and lose nothing
        long = _ragged_record(text, sep, "long-with-values")
        if long is not None:
            raise _ragged_error(path, long, LONG_HINT)
    # a delimiter ending the header line names no column and holds no data: not a column
    while (frame.shape[1] > 1 and str(frame.columns[-1]).startswith("Unnamed: ")
           and frame.iloc[:, -1].isna().all()):
        frame = frame.iloc[:, :-1]
    # pandas fills a short row with missing values; when a field went missing in the middle
    # of a row, every value after it lands in the wrong column. Only a short row leaves the
    # last column empty, so a file without empty cells there is not scanned.
    if frame.shape[1] > 1 and frame.iloc[:, -1].isna().any():
        short = _ragged_record(text, sep, "short")
        if short is not None:
            raise _ragged_error(path, short, SHORT_HINT)
    return frame


LONG_HINT = "quote fields that contain the delimiter, or fix that line"
SHORT_HINT = ("write every field of every row (an empty value is just nothing between two "
              "delimiters: a,,c), or fix that line")


def _ragged_error(path: Path, found: tuple[int, int, int], hint: str) -> DataError:
    line, saw, expected = found
    return DataError(f"{path}: line {line} has {saw} field{'s' if saw != 1 else ''}, the "
                     f"header has {expected}", hint=hint, file=str(path), line=line)


def _ragged_record(text: str, sep: str, kind: str) -> tuple[int, int, int] | None:
    r"""(line, fields, header fields) of the first record of `kind`, else None:

    * "short": fewer fields than the header names (trailing empty header fields, from a
      delimiter at the end of the header line, need no value);
    * "long": more fields than the header;
    * "long-with-values": more fields than the header, and a value in one of the extra ones.

    The line is where the record starts, counting the header as line 1; lines that hold only
    whitespace are skipped, as pandas skips them. None too when Python's csv module cannot
    read the text the way pandas did.

    >>> _ragged_record("a,b,c\n1,2,3\n\n4,5\n", ",", "short")
    (4, 2, 3)
    >>> _ragged_record('a,b\n"x\ny",2\n1,2,3\n', ",", "long")
    (4, 3, 2)
    >>> _ragged_record("a,b\n1,2,\n3,4,5\n", ",", "long-with-values")
    (3, 3, 2)
    >>> _ragged_record("a,b,c,\n1,2,3\n", ",", "short") is None
    True
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text)))  # pandas has no field size limit either
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
        header = next(reader, [])
        named = len(header)
        while named > 1 and not header[named - 1].strip():
            named -= 1
        start = reader.line_num + 1
        for row in reader:
            if any(field.strip() for field in row):
                if kind == "short":
                    found = len(row) < named
                else:
                    extra = row[len(header):]
                    found = bool(extra) and (kind == "long" or any(f.strip() for f in extra))
                if found:
                    return start, len(row), len(header)
            start = reader.line_num + 1
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(limit)
    return None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise DataError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})",
            hint="write it again with pandas.DataFrame.to_parquet or pyarrow",
            file=str(path),
        ) from None


def _read_jsonl(path: Path, encoding: str | None) -> pd.DataFrame:
    text, _ = _decode(path, encoding)
    stripped = text.lstrip()
    if stripped.startswith("["):  # a plain JSON array of records
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {exc.lineno}: {exc.msg}", file=str(path)) from None
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}: line {number} is not valid JSON ({exc.msg})",
                    hint="each line must hold one JSON object",
                    file=str(path),
                    line=number,
                ) from None
            if not isinstance(record, dict):
                raise DataError(
                    f"{path}: line {number} is a {type(record).__name__}, not a JSON object",
                    file=str(path),
                    line=number,
                )
            records.append(record)
    if not records:
        raise DataError(f"{path} holds no records", file=str(path))
    return pd.DataFrame.from_records(records)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV/TSV/Parquet/JSONL by suffix via a temp file + rename: never half-written, and
    readable as the user's umask says (0644 under umask 022), like any file they write."""
    from lathe.atomic import atomic_write

    target = Path(path)
    fmt = table_format(target)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")

    return atomic_write(target, write, what="the predictions",
                        hint="choose a writable location for out=")
