"""`PredictionLog`: append records off the request path; one thread writes them in batches.

Requests put a record on a bounded queue and never block: when the queue is full the record
is dropped, because serving matters more than logging — but a drop is never silent. Every
record not written (queue full, or refused by the database) is counted through ``on_drop(n)``
(the server's ``lathe_prediction_log_dropped_total``) and logged once with its count.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lathe.predlog._store import LogStore

__all__ = ["PredictionLog", "PredictionRecord", "RawJson", "LOGGER"]

LOGGER = logging.getLogger("lathe.predlog")

_LINGER_S = 0.05
_MAX_BATCH = 500


class RawJson(str):
    """Text that is already JSON (the request body, the response's predictions): stored as
    is, so the writer thread spends no GIL time re-serialising what the request already had."""


@dataclass
class PredictionRecord:
    """One answered request. ``request_id`` must be unique (the server makes it);
    ``client_id`` is the X-Request-ID the client sent, if any (may repeat)."""

    request_id: str
    model: str
    version: str
    inputs: Any
    outputs: Any
    latency_ms: float
    time: float = field(default_factory=time.time)
    client_id: str | None = None
    n_rows: int | None = None
    row_ids: list[Any] | None = None
    experiment: str | None = None
    variant: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "client_id": self.client_id,
            "time": self.time,
            "model": self.model,
            "version": self.version,
            "experiment": self.experiment,
            "variant": self.variant,
            "n_rows": self.n_rows,
            "row_ids": None if self.row_ids is None else json.dumps(self.row_ids, default=str),
            "inputs": _as_json(self.inputs),
            "outputs": _as_json(self.outputs),
            "latency_ms": self.latency_ms,
        }


class PredictionLog:
    """The writer the server holds. ``store`` is the `LogStore` it writes to (readers and
    feedback use it too); ``dropped`` counts records never written."""

    def __init__(self, url: str, *, max_queue: int = 10_000, on_drop: Any = None) -> None:
        self.store = LogStore(url)
        if self.store.sealer is not None:
            self.store.sealer.check_writable()  # an encrypted log needs its key to write
        self.on_drop = on_drop
        self.dropped = 0
        self._full = 0  # dropped because the queue was full, not yet logged
        self._queue: queue.Queue[PredictionRecord | None] = queue.Queue(max_queue)
        self._pending = 0  # queued but not yet written; flush() waits for 0
        self._written = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def engine(self) -> Any:
        return self.store.engine

    def append(self, record: PredictionRecord) -> bool:
        """Queue a record; False (counted as dropped) if the queue is full or the log closed."""
        with self._written:
            if not self._closed:
                try:
                    self._queue.put_nowait(record)
                    self._pending += 1
                    return True
                except queue.Full:
                    pass
            self._full += 1
        self._count_dropped(1)
        return False

    def _count_dropped(self, n: int) -> None:
        self.dropped += n
        if self.on_drop is not None:
            self.on_drop(n)

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            # linger briefly: one transaction per 50 ms costs far less CPU (GIL time taken
            # from requests) than one per record when requests come one at a time
            deadline = time.monotonic() + _LINGER_S
            while len(batch) < _MAX_BATCH and batch[-1] is not None:
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
            self._report_full_queue()
            if None in batch:
                return

    def _write(self, records: list[PredictionRecord]) -> None:
        try:
            failed = self.store.insert([r.as_row() for r in records])
        except Exception as error:  # noqa: BLE001 - the writer must live on; counted below
            failed = [({"request_id": r.request_id}, error) for r in records]
        if failed:
            self._count_dropped(len(failed))
            LOGGER.error(
                "prediction log: %d of %d records not written (counted in "
                "lathe_prediction_log_dropped_total); first error: %s",
                len(failed),
                len(records),
                _short(failed[0][1]),
                extra={
                    "dropped": len(failed),
                    "request_ids": [f[0]["request_id"] for f in failed[:5]],
                },
            )

    def _report_full_queue(self) -> None:
        with self._written:
            full, self._full = self._full, 0
        if full:
            LOGGER.warning(
                "prediction log: %d records dropped because the queue of %d was full "
                "(counted in lathe_prediction_log_dropped_total)",
                full,
                self._queue.maxsize,
                extra={"dropped": full},
            )

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is written; False if it took longer than timeout."""
        with self._written:
            return self._written.wait_for(lambda: self._pending == 0, timeout)

    def attach_outcome(self, ref: str, outcome: Any = None, **options: Any) -> dict[str, Any]:
        """`LogStore.attach_outcome`, after the record of a just-answered request is written."""
        found = self.store.find(ref)
        if not found:
            self.flush()
            found = self.store.find(ref)
        return self.store.attach_outcome(ref, outcome, found=found, **options)

    def read(self, request_id: str) -> dict[str, Any] | None:
        self.flush()
        return self.store.read(request_id)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer (records appended later are dropped
        and counted)."""
        with self._written:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=timeout)
        self._report_full_queue()
        if self._thread.is_alive():
            with self._written:
                left = self._pending
            self._count_dropped(left)
            LOGGER.error("prediction log: %d records still unwritten at close (counted)", left)
        self.store.close()


def _as_json(value: Any) -> str:
    return value if isinstance(value, RawJson) else json.dumps(value, default=str)


def _short(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]
