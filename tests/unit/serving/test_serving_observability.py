"""Structured JSON logs and the per-app Prometheus registry."""

from __future__ import annotations

import json
import logging

from lathe.serving.observability import JsonFormatter, ServingMetrics


def test_log_lines_are_json_with_extra_fields():
    record = logging.makeLogRecord(
        {"name": "lathe.serving", "levelname": "INFO", "msg": "model %s", "args": ("loaded",)}
    )
    record.model, record.version = "adult", "v1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "model loaded" and line["level"] == "info"
    assert line["model"] == "adult" and line["version"] == "v1"
    assert line["time"].endswith("Z")


def test_each_app_has_its_own_metrics():
    first, second = ServingMetrics(), ServingMetrics()
    first.observe_request("adult", "v1", 200, 0.003, rows=4)
    first.observe_request("adult", "v1", 503, 0.0)
    text = first.render().decode()
    assert 'lathe_rows_predicted_total{model="adult",version="v1"} 4.0' in text
    assert 'lathe_errors_total{model="adult",status="503",version="v1"} 1.0' in text
    assert 'lathe_request_latency_seconds_bucket{le="0.005",model="adult",version="v1"} 1.0' in text
    assert "adult" not in second.render().decode()
