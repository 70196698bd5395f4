"""Reading the prediction log back as DataFrames, in chunks, with outcomes joined.

One frame row per predicted row (``per_row=True``, what monitoring and A/B analysis want) or
per request. Chunks are read by key order (time, request id), so memory stays bounded however
large the log is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from lathe.errors import UsageError
from lathe.predlog._store import LogStore, open_log

__all__ = ["read_predictions", "read_all", "inputs_frame", "ROW_COLUMNS", "REQUEST_COLUMNS"]

ROW_COLUMNS = [
    "request_id", "client_id", "row_index", "row_id", "time", "model", "version",
    "experiment", "variant", "latency_ms", "n_rows", "inputs", "output", "prediction",
    "outcome", "outcome_time", "first_outcome", "first_outcome_time", "outcome_updates",
]  # fmt: skip
REQUEST_COLUMNS = [
    "request_id", "client_id", "time", "model", "version", "experiment", "variant",
    "latency_ms", "n_rows", "row_ids", "inputs", "outputs", "outcomes",
]  # fmt: skip

_IN_CHUNK = 500  # request ids per IN (...) query for outcomes
_SHADOW = ":shadow"  # a shadow row's request id = the shadowed request's + this


def _epoch(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"{name}={value!r} is not a time",
                hint="pass epoch seconds, a datetime, or ISO text such as 2026-12-07T19:00:00Z",
            ) from None
    if hasattr(value, "timestamp"):  # datetime or pandas Timestamp (naive means UTC)
        if getattr(value, "tzinfo", None) is None:
            value = value.replace(tzinfo=UTC)
        return float(value.timestamp())
    raise UsageError(f"{name} must be a time, got {type(value).__name__}")


def read_predictions(
    source: str | LogStore,
    *,
    model: str | None = None,
    version: str | None = None,
    since: Any = None,
    until: Any = None,
    experiment: str | None = None,
    variant: str | None = None,
    chunksize: int = 10_000,
    per_row: bool = True,
    shadow: bool = False,
) -> Iterator[Any]:
    """Yield DataFrames of logged predictions (at most ``chunksize`` requests each), oldest
    first. ``since`` is inclusive and ``until`` exclusive (epoch seconds, datetime or ISO
    text). Columns: `ROW_COLUMNS` (``per_row``) or `REQUEST_COLUMNS`; ``time`` and the outcome
    times are UTC datetimes; ``inputs`` holds each row's fields as a dict (`inputs_frame`
    turns them into columns); ``prediction`` is the label (classification) or the value
    (regression); ``outcome`` is NaN/None where no outcome arrived. ``shadow=True`` reads
    what shadow candidates scored instead, with the outcomes of the requests they shadowed."""
    import sqlalchemy as sa

    if chunksize < 1:
        raise UsageError(f"chunksize must be at least 1, got {chunksize}")
    store = open_log(source, create=False) if isinstance(source, str) else source
    p = store.shadow if shadow else store.predictions
    query = sa.select(
        p.c.request_id, p.c.client_id, p.c.time, p.c.model, p.c.version, p.c.experiment,
        p.c.variant, p.c.latency_ms, p.c.n_rows, p.c.row_ids, p.c.inputs, p.c.outputs,
    )  # fmt: skip
    for column, value in (
        ("model", model), ("version", version), ("experiment", experiment), ("variant", variant)
    ):  # fmt: skip
        if value is not None:
            query = query.where(p.c[column] == value)
    start, end = _epoch(since, "since"), _epoch(until, "until")
    if start is not None:
        query = query.where(p.c.time >= start)
    if end is not None:
        query = query.where(p.c.time < end)
    query = query.order_by(p.c.time, p.c.request_id)
    last: tuple[float, str] | None = None
    try:
        while True:
            page = query
            if last is not None:  # keyset paging: no OFFSET scans on a large log
                page = page.where(
                    (p.c.time > last[0]) | ((p.c.time == last[0]) & (p.c.request_id > last[1]))
                )
            with store.engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(page.limit(chunksize))]
                if not rows:
                    return
                outcomes = _outcomes(conn, store, [r["request_id"] for r in rows], shadow)
            last = (rows[-1]["time"], rows[-1]["request_id"])
            yield _frame(rows, outcomes, per_row, store)
            if len(rows) < chunksize:
                return
    finally:
        if isinstance(source, str):
            store.close()


def read_all(source: str | LogStore, **filters: Any) -> Any:
    """Every matching prediction in one DataFrame (empty, with the columns, when none)."""
    import pandas as pd

    per_row = filters.get("per_row", True)
    frames = list(read_predictions(source, **filters))
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS if per_row else REQUEST_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def inputs_frame(frame: Any) -> Any:
    """The input fields of a per-row frame as columns (same index), e.g. for drift tests."""
    import pandas as pd

    return pd.DataFrame(list(frame["inputs"]), index=frame.index)


def _outcomes(conn: Any, store: LogStore, ids: list[str],
              shadow: bool = False) -> dict[str, dict[int, Any]]:
    """Outcomes by request id; a shadow row ("ID:shadow") gets those of the request ID."""
    import sqlalchemy as sa

    o = store.outcomes
    keys = [i.removesuffix(_SHADOW) for i in ids] if shadow else ids
    suffix = _SHADOW if shadow else ""
    out: dict[str, dict[int, Any]] = {}
    for i in range(0, len(keys), _IN_CHUNK):
        part = keys[i : i + _IN_CHUNK]
        for r in conn.execute(sa.select(o).where(o.c.request_id.in_(part))):
            out.setdefault(r.request_id + suffix, {})[r.row_index] = r
    return out


def _rows_of(inputs: Any) -> list[Any]:
    if isinstance(inputs, dict) and isinstance(inputs.get("rows"), list):
        return inputs["rows"]
    return inputs if isinstance(inputs, list) else [inputs]


def _frame(rows: list[dict[str, Any]], outcomes: dict[str, dict[int, Any]], per_row: bool,
           store: Any) -> Any:
    import pandas as pd

    records: list[dict[str, Any]] = []
    for r in rows:
        inputs = _rows_of(store.opened(r["inputs"], r["request_id"], "inputs"))
        outputs = store.opened(r["outputs"], r["request_id"], "outputs")
        row_ids = json.loads(r["row_ids"]) if r["row_ids"] else None
        found = outcomes.get(r["request_id"], {})
        n = r["n_rows"] if r["n_rows"] is not None else len(outputs)
        base = {k: r[k] for k in ("request_id", "client_id", "time", "model", "version")}
        base.update(
            experiment=r["experiment"], variant=r["variant"], latency_ms=r["latency_ms"], n_rows=n
        )
        if not per_row:
            records.append(
                {
                    **base,
                    "row_ids": row_ids,
                    "inputs": inputs,
                    "outputs": outputs,
                    "outcomes": [
                        _value(found.get(i) or found.get(-1), "outcome") for i in range(n)
                    ],
                }
            )
            continue
        for i in range(n):
            output = outputs[i] if i < len(outputs) else None
            hit = found.get(i) or found.get(-1)  # -1: a whole-request outcome (version-1 logs)
            records.append(
                {
                    **base,
                    "row_index": i,
                    "row_id": row_ids[i] if row_ids and i < len(row_ids) else None,
                    "inputs": inputs[i] if i < len(inputs) else None,
                    "output": output,
                    "prediction": _prediction(output),
                    "outcome": _value(hit, "outcome"),
                    "outcome_time": hit.outcome_time if hit else None,
                    "first_outcome": _value(hit, "first_outcome"),
                    "first_outcome_time": hit.first_time if hit else None,
                    "outcome_updates": hit.updates if hit else 0,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=ROW_COLUMNS if per_row else REQUEST_COLUMNS)
    for column in ("time", "outcome_time", "first_outcome_time"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


def _value(hit: Any, column: str) -> Any:
    return json.loads(getattr(hit, column)) if hit is not None else None


def _prediction(output: Any) -> Any:
    if isinstance(output, dict):
        return output.get("label", output.get("value"))
    return output
