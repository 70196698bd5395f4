"""Prometheus metrics per model and version, and structured JSON logs.

Each app owns its own `CollectorRegistry` (no global state: several apps in one process,
as in tests, do not collide).

>>> m = ServingMetrics()
>>> m.observe_request("adult", "v1", 200, 0.004, rows=1)
>>> m.observe_batch("adult", "v1", requests=3, rows=5)
>>> b"lathe_batch_requests_bucket" in m.render()
True
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["ServingMetrics", "JsonFormatter", "configure_json_logging", "LOGGER"]

LOGGER = logging.getLogger("lathe.serving")

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)


class ServingMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        labels = ("model", "version")
        self.requests = Counter(
            "lathe_requests", "Prediction requests", (*labels, "status"), registry=self.registry
        )
        self.errors = Counter(
            "lathe_errors",
            "Prediction requests that failed",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "lathe_request_latency_seconds",
            "Prediction request latency",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "lathe_batch_requests",
            "Requests merged into one model call",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "lathe_batch_rows",
            "Rows in one model call",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "lathe_rows_predicted", "Rows predicted", labels, registry=self.registry
        )
        self.loaded = Gauge(
            "lathe_model_loaded", "1 for the version being served", labels, registry=self.registry
        )
        self.reloads = Counter(
            "lathe_model_reloads",
            "Hot reloads by outcome",
            ("model", "outcome"),
            registry=self.registry,
        )
        self.responses = Counter(
            "lathe_http_responses",
            "Every HTTP response by status (any path, including 413s before routing)",
            ("status",),
            registry=self.registry,
        )
        self._by_status: dict[int, Any] = {}
        self.log_dropped = Counter(
            "lathe_prediction_log_dropped",
            "Answered requests whose prediction log record was not written (queue full or refused)",
            registry=self.registry,
        )

    def observe_request(
        self, model: str, version: str, status: int, seconds: float, rows: int = 0
    ) -> None:
        self.requests.labels(model, version, str(status)).inc()
        if status >= 400:
            self.errors.labels(model, version, str(status)).inc()
        else:
            self.latency.labels(model, version).observe(seconds)
            self.rows.labels(model, version).inc(rows)

    def observe_status(self, status: int) -> None:
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self.responses.labels(str(status))
        child.inc()

    def observe_batch(self, model: str, version: str, requests: int, rows: int) -> None:
        self.batch_requests.labels(model, version).observe(requests)
        self.batch_rows.labels(model, version).observe(rows)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra={...}` fields."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Called by `lathe serve` (never at import): JSON lines on stderr for lathe.serving and
    the prediction log (lathe.predlog)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for logger in (LOGGER, logging.getLogger("lathe.predlog")):
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
