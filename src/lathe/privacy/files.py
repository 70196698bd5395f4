"""PII in data files: `scan_file` says which columns hold which kinds (`lathe check --pii`),
`mask_file` writes a copy with the PII masked (`lathe privacy mask`).

A CSV/TSV is rewritten cell by cell on its original text: every row stays, in order, and
every byte outside the masked cells is kept (quoting, number formats, line endings). A JSONL
line with nothing to mask is copied as it was; Parquet is rewritten column by column.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("id,text\\n007,call 138 0013 8000\\n008,no pii\\n")
>>> scan_file(d / "t.csv")["columns"]["text"]["types"]
{'CN_MOBILE': 1}
>>> mask_file(d / "t.csv", d / "m.csv", columns=["text"])["masked"]
{'CN_MOBILE': 1}
>>> (d / "m.csv").read_text()
'id,text\\n007,call <CN_MOBILE>\\n008,no pii\\n'
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lathe.errors import DataError, NotFound, UsageError, did_you_mean
from lathe.privacy._rawcsv import cell_value, quote_cell, split_records
from lathe.privacy.pii import Masker, detect

__all__ = ["scan_file", "mask_file", "scan_cells"]

EXAMPLES = 3


def _format(path: Path) -> str:
    from lathe.data.load import table_format

    if not path.exists():
        raise NotFound(f"{path}: no such file", hint="check the path", file=str(path))
    return table_format(path)


def _csv(path: Path, fmt: str, encoding: str | None) -> tuple[str, str, list[list[tuple[int, int]]]]:
    from lathe.data.load import _decode, _sniff_delimiter

    text, _ = _decode(path, encoding)
    sep = "\t" if fmt == "tsv" else _sniff_delimiter(text[:20_000])
    records = split_records(text, sep)
    if not records:
        raise DataError(f"{path} is empty", file=str(path))
    return text, sep, records


def _columns(path: Path, fmt: str, encoding: str | None) -> Iterator[tuple[str, list[str | None]]]:
    """(column name, cell values as text) for every column of the file."""
    if fmt in ("csv", "tsv"):
        text, _, records = _csv(path, fmt, encoding)
        header = [cell_value(text[s:e]).lstrip("\ufeff") for s, e in records[0]]
        body = [r for r in records[1:] if r != [(r[0][0], r[0][0])]]  # blank lines
        for i, name in enumerate(header):
            yield name, [cell_value(text[r[i][0]:r[i][1]]) if i < len(r) else None for r in body]
        return
    from lathe.data.load import read_table

    frame = read_table(path, encoding=encoding)
    for name in frame.columns:
        values = frame[name]
        yield str(name), [None if v is None or v != v else str(v) for v in values.tolist()]


def scan_cells(values: Sequence[str | None]) -> dict[str, Any]:
    """Counts by PII type over the cells, the rows holding any, and a few masked examples."""
    types: dict[str, int] = {}
    rows, examples = 0, list[str]()
    masker = Masker("redact")
    for value in values:
        if not value:
            continue
        found = detect(value)
        if not found:
            continue
        rows += 1
        for m in found:
            types[m.entity] = types.get(m.entity, 0) + 1
        if len(examples) < EXAMPLES:
            short = value if len(value) <= 120 else value[:117] + "..."
            examples.append(masker.mask(short))
    return {"rows_with_pii": rows, "types": dict(sorted(types.items())), "examples": examples}


def scan_file(path: str | Path, *, columns: Sequence[str] | None = None,
              encoding: str | None = None) -> dict[str, Any]:
    """`{"columns": {name: {rows_with_pii, share, types, examples}}, "types": {..}, ...}` for
    the columns that hold PII (all columns scanned unless `columns` names some)."""
    path = Path(path)
    fmt = _format(path)
    found: dict[str, Any] = {}
    totals: dict[str, int] = {}
    n_rows, seen = 0, []
    for name, values in _columns(path, fmt, encoding):
        seen.append(name)
        n_rows = len(values)
        if columns is not None and name not in columns:
            continue
        report = scan_cells(values)
        if report["rows_with_pii"]:
            report["share"] = round(report["rows_with_pii"] / max(1, n_rows), 4)
            found[name] = report
            for entity, count in report["types"].items():
                totals[entity] = totals.get(entity, 0) + count
    _check_columns(path, columns, seen)
    return {"found": bool(found), "rows": n_rows, "columns": found,
            "types": dict(sorted(totals.items())), "masked_examples": True}


def _check_columns(path: Path, columns: Sequence[str] | None, seen: list[str]) -> None:
    for col in columns or []:
        if col not in seen:
            raise DataError(f"{path}: no column {col!r}", hint=did_you_mean(col, seen) or
                            f"columns are {', '.join(seen[:20])}", file=str(path), column=col)


def mask_file(path: str | Path, out: str | Path, *, columns: Sequence[str] | None = None,
              mode: str = "redact", key: bytes | None = None, encoding: str | None = None,
              force: bool = False) -> dict[str, Any]:
    """Write `path` to `out` with the PII in `columns` masked (default: the columns where a
    scan finds PII). Returns {rows, columns, masked: {type: n}, mode, out}."""
    from lathe.atomic import write_bytes_atomic

    path, out = Path(path), Path(out)
    fmt = _format(path)
    if out.resolve() == path.resolve():
        raise UsageError(f"--out {out} is the input file", hint="write the masked copy elsewhere")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", hint="choose another --out or pass --force",
                         file=str(out))
    masker = Masker(mode, key=key)  # checks the mode before any reading
    if columns is None:
        columns = list(scan_file(path, encoding=encoding)["columns"])
    if fmt in ("csv", "tsv"):
        data, rows = _mask_csv(path, fmt, columns, masker, encoding)
    elif fmt == "jsonl":
        data, rows = _mask_jsonl(path, columns, masker, encoding)
    else:
        data, rows = _mask_parquet(path, columns, masker)
    write_bytes_atomic(out, data, what="the masked file")
    return {"out": str(out), "rows": rows, "columns": list(columns), "mode": mode,
            "masked": dict(sorted(masker.masked.items())),
            "key": None if mode != "hash" else "given" if masker.key_given
            else "random (this run only: hashes differ between runs)"}


def _mask_csv(path: Path, fmt: str, columns: Sequence[str], masker: Masker,
              encoding: str | None) -> tuple[bytes, int]:
    text, sep, records = _csv(path, fmt, encoding)
    header = [cell_value(text[s:e]).lstrip("\ufeff") for s, e in records[0]]
    _check_columns(path, columns, header)
    wanted = [header.index(c) for c in columns]
    parts: list[str] = []
    at, rows = 0, 0
    for record in records[1:]:
        rows += 1
        for i in wanted:
            if i >= len(record):
                continue
            start, end = record[i]
            raw = text[start:end]
            value = cell_value(raw)
            masked = masker.mask(value)
            if masked != value:
                parts += [text[at:start], quote_cell(masked, sep, raw.startswith('"'))]
                at = end
    parts.append(text[at:])
    # utf-8-sig (the default) dropped a byte-order mark when decoding: put it back
    bom = b"\xef\xbb\xbf" if encoding is None and path.read_bytes()[:3] == b"\xef\xbb\xbf" else b""
    return bom + "".join(parts).encode(encoding or "utf-8"), rows


def _mask_jsonl(path: Path, columns: Sequence[str], masker: Masker,
                encoding: str | None) -> tuple[bytes, int]:
    # bytes decoded as they are: read_text would turn \r\n into \n
    lines = path.read_bytes().decode(encoding or "utf-8").splitlines(keepends=True)
    out, rows, seen = [], 0, set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            out.append(line)
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number} is not JSON ({err.msg})", file=str(path),
                            line=number) from None
        rows += 1
        seen.update(record)
        for col in columns:
            value = record.get(col)
            if isinstance(value, str) and (masked := masker.mask(value)) != value:
                line = _replace_json_value(line, col, value, masked)
        out.append(line)
    _check_columns(path, columns, sorted(seen))
    return "".join(out).encode(encoding or "utf-8"), rows


def _replace_json_value(line: str, key: str, value: str, masked: str) -> str:
    """`line` with the string token of top-level `key` (whose value is `value`) replaced by
    `masked`, every other byte kept; escaped the way the original token was (\\u or not)."""
    import re

    pattern = re.compile(re.escape(json.dumps(key)) + r'\s*:\s*("(?:[^"\\]|\\.)*")')
    for match in pattern.finditer(line):
        token = match.group(1)
        if json.loads(token) == value:
            new = json.dumps(masked, ensure_ascii="\\u" in token)
            return line[:match.start(1)] + new + line[match.end(1):]
    # the key was written escaped (or some other way): rewrite the record as a whole
    record = json.loads(line)
    record[key] = masked
    return json.dumps(record, ensure_ascii=False) + line[len(line.rstrip("\r\n")):]


def _mask_parquet(path: Path, columns: Sequence[str], masker: Masker) -> tuple[bytes, int]:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    _check_columns(path, columns, table.column_names)
    for col in columns:
        values = table.column(col).to_pylist()
        masked = [masker.mask(v) if isinstance(v, str) else v for v in values]
        table = table.set_column(table.column_names.index(col), col,
                                 pa.array(masked, type=table.column(col).type))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue(), table.num_rows
