"""The prediction log: every answered request, appended to a SQL table off the request path.

Requests put a record on a bounded queue (never blocking: when it is full the record is
dropped and counted, because serving matters more than logging); one background thread
writes records in batches. `POST /v1/feedback` attaches the true outcome to a request id,
which is what monitoring and A/B analysis join on later. The server stores `inputs` as the
request body it received (`{"rows": [...]}`) and `outputs` as the predictions it answered.

>>> import tempfile, os
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "p.db")
>>> log = PredictionLog(url)
>>> log.append(PredictionRecord("r1", "adult", "v1", [{"age": 40}], [{"label": "no"}], 1.5))
True
>>> log.attach_outcome("r1", "yes")
True
>>> log.read("r1")["outcome"], log.read("r1")["outputs"]
('yes', [{'label': 'no'}])
>>> log.close()
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PredictionLog", "PredictionRecord", "RawJson"]

_LINGER_S = 0.05


class RawJson(str):
    """Text that is already JSON (the request body, the response's predictions): stored as
    is, so the writer thread spends no GIL time re-serialising what the request already had."""


@dataclass
class PredictionRecord:
    request_id: str
    model: str
    version: str
    inputs: Any
    outputs: Any
    latency_ms: float
    time: float = field(default_factory=time.time)


class PredictionLog:
    def __init__(self, url: str, *, max_queue: int = 10_000, on_drop: Any = None) -> None:
        import sqlalchemy as sa

        if url.startswith("sqlite:///") and not url.startswith("sqlite:////:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        sqlite = url.startswith("sqlite")
        # several workers may share one SQLite file: wait for its lock instead of failing
        self.engine = sa.create_engine(url, connect_args={"timeout": 30} if sqlite else {})
        if sqlite:

            @sa.event.listens_for(self.engine, "connect")
            def _wal(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        meta = sa.MetaData()
        self.table = sa.Table(
            "predictions",
            meta,
            sa.Column("request_id", sa.String(64), primary_key=True),
            sa.Column("time", sa.Float, nullable=False, index=True),
            sa.Column("model", sa.String(200), nullable=False, index=True),
            sa.Column("version", sa.String(200), nullable=False),
            sa.Column("inputs", sa.Text, nullable=False),
            sa.Column("outputs", sa.Text, nullable=False),
            sa.Column("latency_ms", sa.Float, nullable=False),
            sa.Column("outcome", sa.Text, nullable=True),
            sa.Column("outcome_time", sa.Float, nullable=True),
        )
        try:
            meta.create_all(self.engine)
        except sa.exc.OperationalError:
            # another worker created the table between our check and our CREATE
            time.sleep(0.2)
            meta.create_all(self.engine)
        self.on_drop = on_drop
        self._queue: queue.Queue[PredictionRecord | None] = queue.Queue(max_queue)
        self._pending = 0  # queued but not yet written; flush() waits for 0
        self._written = threading.Condition()
        self._thread = threading.Thread(target=self._write_loop, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, record: PredictionRecord) -> bool:
        """Queue a record; False (and counted) if the queue is full."""
        try:
            with self._written:
                self._queue.put_nowait(record)
                self._pending += 1
            return True
        except queue.Full:
            if self.on_drop is not None:
                self.on_drop()
            return False

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            # linger briefly: one transaction per 50 ms costs far less CPU (GIL time taken
            # from requests) than one per record when requests come one at a time
            deadline = time.monotonic() + _LINGER_S
            while len(batch) < 500 and first is not None and batch[-1] is not None:
                left = deadline - time.monotonic()
                try:
                    batch.append(
                        self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
            records = [r for r in batch if r is not None]
            if records:
                self._write(records)
                with self._written:
                    self._pending -= len(records)
                    self._written.notify_all()
            if None in batch:
                return

    def _write(self, records: list[PredictionRecord]) -> None:
        rows = [
            {
                "request_id": r.request_id,
                "time": r.time,
                "model": r.model,
                "version": r.version,
                "inputs": _as_json(r.inputs),
                "outputs": _as_json(r.outputs),
                "latency_ms": r.latency_ms,
            }
            for r in records
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), rows)
        except Exception:  # a broken log must not stop the writer; say so and go on
            from lathe.serving.observability import LOGGER

            LOGGER.exception("prediction log write failed", extra={"records": len(rows)})

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued record is written."""
        with self._written:
            self._written.wait_for(lambda: self._pending == 0, timeout)

    def attach_outcome(self, request_id: str, outcome: Any) -> bool:
        """Store the true outcome for a request; False when the id is unknown."""
        self.flush()
        with self.engine.begin() as conn:
            result = conn.execute(
                self.table.update()
                .where(self.table.c.request_id == request_id)
                .values(outcome=json.dumps(outcome, default=str), outcome_time=time.time())
            )
        return bool(result.rowcount)

    def read(self, request_id: str) -> dict[str, Any] | None:
        self.flush()
        with self.engine.connect() as conn:
            row = conn.execute(
                self.table.select().where(self.table.c.request_id == request_id)
            ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        for key in ("inputs", "outputs", "outcome"):
            if out[key] is not None:
                out[key] = json.loads(out[key])
        return out

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        self.engine.dispose()


def _as_json(value: Any) -> str:
    return value if isinstance(value, RawJson) else json.dumps(value, default=str)
