"""Drift and performance gauges in Prometheus' text format (for node_exporter's textfile
collector, or pushed to a Pushgateway with `push_gauges`), and Prometheus alert rules
mirroring monitor.yaml's rules.

>>> text = gauges_text({"share_drifted": 0.5, "dataset_drift": True, "columns": {}},
...                    None, model="churn", breached={}, now=0.0)
>>> 'lathe_monitor_drift_share{model="churn"} 0.5' in text
True
"""

from __future__ import annotations

import math
import time
from typing import Any

from lathe.monitoring.alerts import COLUMN_METRICS, Rule

__all__ = ["gauges_text", "alert_rules", "escape", "push_gauges", "PUSH_JOB"]

PUSH_JOB = "lathe_monitor"

HEADERS = {
    "lathe_monitor_dataset_drift": "1 when the share of drifted columns reached drift_share",
    "lathe_monitor_drift_share": "Share of drifted input columns",
    "lathe_monitor_column_drift_score": "Drift test score of a column (p-value or distance)",
    "lathe_monitor_column_drifted": "1 when the column drifted",
    "lathe_monitor_column_missing_share": "Share of missing values in the current data",
    "lathe_monitor_prediction_drift_score": "Drift score of the model's predicted class",
    "lathe_monitor_performance": "Realised metric of the latest window with labels",
    "lathe_monitor_estimated_performance": "CBPE estimate of the metric in the latest window",
    "lathe_monitor_rule_breached": "1 when the monitor.yaml rule is breached",
    "lathe_monitor_last_run_timestamp_seconds": "When lathe monitor run last finished",
}
COLUMN_GAUGE = {"drift_score": "lathe_monitor_column_drift_score",
                "drifted": "lathe_monitor_column_drifted",
                "missing_share": "lathe_monitor_column_missing_share",
                "new_category_share": "lathe_monitor_column_drift_score"}


def escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def gauges_text(drift: dict[str, Any] | None, performance: dict[str, Any] | None, *,
                model: str, breached: dict[str, bool], now: float | None = None) -> str:
    """Every gauge of one run as Prometheus exposition text."""
    samples: dict[str, list[str]] = {name: [] for name in HEADERS}

    def add(name: str, value: Any, **labels: Any) -> None:
        number = float(value)
        if math.isfinite(number):
            samples[name].append(f"{name}{_labels(**labels)} {number:.10g}")

    if drift is not None:
        add("lathe_monitor_dataset_drift", bool(drift["dataset_drift"]), model=model)
        add("lathe_monitor_drift_share", drift["share_drifted"], model=model)
        for column, col in drift["columns"].items():
            if "skipped" in col:
                continue
            add("lathe_monitor_column_drift_score", col["statistic"], model=model,
                column=column, test=col["test"])
            add("lathe_monitor_column_drifted", bool(col["drifted"]), model=model, column=column)
            add("lathe_monitor_column_missing_share",
                col.get("missing_share", {}).get("current", 0.0), model=model, column=column)
        pred = (drift.get("prediction") or {}).get("prediction")
        if pred:
            add("lathe_monitor_prediction_drift_score", pred["statistic"], model=model)
    for window in reversed((performance or {}).get("windows", [])):
        done = {s.split('metric="')[1].split('"')[0] for s in samples["lathe_monitor_performance"]}
        for key, value in window.items():
            if isinstance(value, float) and key not in done and not key.startswith("estimated_"):
                add("lathe_monitor_performance", value, model=model, metric=key)
    for window in (performance or {}).get("windows", [])[-1:]:
        for key, value in window.items():
            if key.startswith("estimated_") and isinstance(value, float):
                add("lathe_monitor_estimated_performance", value, model=model,
                    metric=key.removeprefix("estimated_"))
    for name, hit in breached.items():
        add("lathe_monitor_rule_breached", hit, model=model, rule=name)
    add("lathe_monitor_last_run_timestamp_seconds", time.time() if now is None else now,
        model=model)
    lines = []
    for name, rows in samples.items():
        if rows:
            lines += [f"# HELP {name} {HEADERS[name]}", f"# TYPE {name} gauge", *rows]
    return "\n".join(lines) + "\n"


def _expr(rule: Rule, model: str) -> str:
    op, threshold = (">", rule.above) if rule.above is not None else ("<", rule.below)
    target = rule.model or model
    if rule.metric in COLUMN_METRICS:
        series = f"{COLUMN_GAUGE[rule.metric]}{_labels(model=target, column=rule.column)}"
    elif rule.metric == "dataset_drift":
        series = f"lathe_monitor_dataset_drift{_labels(model=target)}"
    elif rule.metric == "share_drifted":
        series = f"lathe_monitor_drift_share{_labels(model=target)}"
    elif rule.metric == "prediction_drift_score":
        series = f"lathe_monitor_prediction_drift_score{_labels(model=target)}"
    elif rule.metric.startswith("estimated_"):
        series = ("lathe_monitor_estimated_performance"
                  f"{_labels(model=target, metric=rule.metric.removeprefix('estimated_'))}")
    else:
        series = f"lathe_monitor_performance{_labels(model=target, metric=rule.metric)}"
    return f"{series} {op} {threshold:g}"


def alert_rules(rules: list[Rule], *, model: str, stale_after_s: int = 7200) -> dict[str, Any]:
    """A Prometheus rule file (as a dict for yaml.safe_dump): one alert per monitor.yaml rule
    on the exported gauges, and one when the monitor has not run for `stale_after_s`."""
    alerts: list[dict[str, Any]] = []
    for i, rule in enumerate(rules, 1):
        alerts.append({
            "alert": f"LatheMonitorRule{i}",
            "expr": _expr(rule, model),
            "labels": {"severity": "warning"},
            "annotations": {"summary": f"{rule.model or model}: {rule.name}",
                            "description": f"lathe monitor run rule: {rule.describe()}"},
        })
    alerts.append({
        "alert": "LatheMonitorStale",
        "expr": f"time() - lathe_monitor_last_run_timestamp_seconds > {stale_after_s}",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "lathe monitor run has not reported recently"},
    })
    return {"groups": [{"name": "lathe-monitoring", "rules": alerts}]}


def push_gauges(gateway: str, text: str, *, model: str, timeout: float = 10.0
                ) -> dict[str, Any]:
    """PUT one run's gauges to a Pushgateway under the grouping key {job="lathe_monitor",
    model=MODEL} (replacing the previous run's), the model base64-encoded in the path as the
    Pushgateway API allows; the outcome (never an exception) for the run's report."""
    import base64
    import urllib.error
    import urllib.request

    key = base64.urlsafe_b64encode(model.encode("utf-8")).decode("ascii")
    url = f"{gateway.rstrip('/')}/metrics/job/{PUSH_JOB}/model@base64/{key or '='}"
    request = urllib.request.Request(url, data=text.encode("utf-8"), method="PUT", headers={
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return {"url": url, "ok": 200 <= answer.status < 300, "status": answer.status}
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace").strip()[:300]
        return {"url": url, "ok": False, "status": err.code, "error": detail or str(err)}
    except (urllib.error.URLError, OSError) as err:
        return {"url": url, "ok": False, "error": str(getattr(err, "reason", err))}
