"""`lathe predict MODEL DATA --engine dask://... --out FILE`: score partitions as Dask tasks.

DATA is read by partition with Dask's readers through fsspec (a local path, a glob, or a
remote URL such as ``s3://bucket/rows/*.parquet``): Parquet as it is typed, CSV as text (the
model's schema converts it, exactly as a local predict does). Every partition is scored by
`Model.score_frame` on a worker, so the predictions are the local ones. ``--out FILE`` (.csv,
.tsv, .parquet, .jsonl) writes one file in input order, atomically: partitions are computed in
parallel, a few at a time, and appended in order to a temporary sibling that replaces FILE at
the end. ``--out DIR/`` writes one Parquet file per partition (Dask's ``to_parquet``).
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from lathe.errors import UsageError

__all__ = ["predict_on_engine"]


def _read(data: str) -> Any:
    import dask.dataframe as dd

    lower = data.lower().rstrip("/")
    if lower.endswith((".parquet", ".pq")) or (os.path.isdir(data) and not lower.endswith(
            (".csv", ".tsv"))):
        return dd.read_parquet(data)
    if lower.endswith((".csv", ".tsv", ".txt")):
        return dd.read_csv(data, dtype=object, sep="\t" if lower.endswith(".tsv") else ",",
                           blocksize="16MB", keep_default_na=True)
    if lower.endswith((".jsonl", ".ndjson")):
        return dd.read_json(data, lines=True, blocksize="16MB")
    raise UsageError(f"{data}: --engine reads .parquet, .csv, .tsv or .jsonl (globs allowed)",
                     hint="convert the data, or predict without --engine")


def _writer(path: Path, suffix: str) -> tuple[Any, Any]:
    """(append(frame), close()) writing `path` (a temporary file) as `suffix` says."""
    suffix = suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        state: dict[str, Any] = {}

        def append_parquet(frame: Any) -> None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if "w" not in state:
                state["w"] = pq.ParquetWriter(path, table.schema)
            state["w"].write_table(table.cast(state["w"].schema))

        return append_parquet, lambda: state["w"].close() if "w" in state else None
    handle = path.open("w", encoding="utf-8", newline="")
    first = [True]

    def append_text(frame: Any) -> None:
        if suffix in (".jsonl", ".ndjson"):
            frame.to_json(handle, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_csv(handle, index=False, header=first[0],
                         sep="\t" if suffix == ".tsv" else ",")
        first[0] = False

    return append_text, handle.close


def predict_on_engine(model: Any, data: str, *, out: str, engine: str, proba: bool = False,
                      strict: bool = False) -> dict[str, Any]:
    """Score DATA by partition on the Dask engine; returns what was written and how fast."""
    from lathe.atomic import atomic_write
    from lathe.models._engine import use_engine, worker_count

    started = time.perf_counter()

    def score(part: Any) -> Any:
        return model.score_frame(part, proba=proba, strict=strict)[0]

    with use_engine(engine) as client:
        frame = _read(str(data))
        meta = score(frame.head(2, npartitions=1)).iloc[:0]
        scored = frame.map_partitions(score, meta=meta)
        parts = scored.npartitions
        if str(out).endswith("/") or Path(out).is_dir():
            scored.to_parquet(str(out), write_index=False)
            rows = int(scored.map_partitions(len).sum().compute())
        else:
            window = 2 * worker_count(client)
            pending: deque[Any] = deque()
            chunks = iter(scored.to_delayed())
            rows = 0

            def write(tmp: Path) -> None:
                nonlocal rows
                append, close = _writer(tmp, Path(out).suffix)
                try:
                    for chunk in chunks:
                        pending.append(client.compute(chunk))
                        if len(pending) >= window:
                            rows += _flush(pending.popleft(), append)
                    while pending:
                        rows += _flush(pending.popleft(), append)
                finally:
                    close()

            atomic_write(out, write, what="the predictions",
                         hint="choose a writable location for --out")
    seconds = time.perf_counter() - started
    return {"out": str(out), "rows": rows, "partitions": parts, "engine": engine,
            "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds, 1)}


def _flush(future: Any, append: Any) -> int:
    frame = future.result()
    future.release()
    append(frame)
    return len(frame)
