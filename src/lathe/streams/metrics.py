"""Prometheus metrics of a stream consumer (own registry; `lathe stream --metrics-port P`
serves them at http://HOST:P/metrics), and the counts its summary reports.

>>> m = StreamMetrics("adult")
>>> m.observe_batch(messages=3, rows=4, dead=1, seconds=0.01)
>>> m.summary()["messages"], m.summary()["dead_letters"]
(3, 1)
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["StreamMetrics"]


class StreamMetrics:
    def __init__(self, model: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.model = model
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("lathe_stream_messages", "input messages settled, by outcome",
                                ["model", "outcome"], registry=r)
        self.rows = Counter("lathe_stream_rows", "rows scored", ["model"], registry=r)
        self.batch_size = Histogram("lathe_stream_batch_messages", "messages per micro-batch",
                                    ["model"], registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.batch_seconds = Histogram(
            "lathe_stream_batch_seconds", "time from a batch's first message to its ack",
            ["model"], registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.errors = Counter("lathe_stream_errors", "failures, by kind (publish, ack, model)",
                              ["model", "kind"], registry=r)
        self.lag = Gauge("lathe_stream_lag", "messages waiting in the input queue", ["model"],
                         registry=r)
        self.version = Gauge("lathe_stream_model_loaded", "1 for the version scoring now",
                             ["model", "version"], registry=r)
        self.reloads = Counter("lathe_stream_reloads", "model reloads, by result",
                               ["model", "result"], registry=r)
        self._counts = {"messages": 0, "rows": 0, "dead_letters": 0, "batches": 0,
                        "retried": 0}
        self.first_output: float | None = None
        self.last_output: float | None = None

    def observe_batch(self, *, messages: int, rows: int, dead: int, seconds: float) -> None:
        m = self.model
        self.messages.labels(m, "scored").inc(messages - dead)
        if dead:
            self.messages.labels(m, "dead_letter").inc(dead)
        self.rows.labels(m).inc(rows)
        self.batch_size.labels(m).observe(messages)
        self.batch_seconds.labels(m).observe(seconds)
        counts = self._counts
        counts["messages"] += messages
        counts["rows"] += rows
        counts["dead_letters"] += dead
        counts["batches"] += 1
        now = time.time()
        if self.first_output is None:
            self.first_output = now
        self.last_output = now

    def error(self, kind: str, retried: int = 0) -> None:
        self.errors.labels(self.model, kind).inc()
        self._counts["retried"] += retried

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self._counts)
        first, last = self.first_output, self.last_output
        out["first_output"], out["last_output"] = first, last
        span = (last - first) if first is not None and last is not None else 0.0
        out["messages_per_second"] = round(out["messages"] / span, 1) if span > 0 else None
        return out

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.registry)
