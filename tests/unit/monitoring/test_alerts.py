"""Alert rules, Prometheus output (checked by promtool) and `monitor run` with a webhook."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from lathe.errors import ConfigError
from lathe.monitoring.alerts import ALERT_EXIT_CODE, breach, parse_rules
from lathe.monitoring.prometheus import alert_rules, gauges_text
from lathe.monitoring.runner import run_monitor

PERF = {"windows": [{"start": 0, "end": 10, "accuracy": 0.9, "estimated_accuracy": 0.88},
                    {"start": 10, "end": 20, "accuracy": 0.7, "estimated_accuracy": 0.86},
                    {"start": 20, "end": 25, "accuracy": 0.6, "estimated_accuracy": 0.85}]}
DRIFT = {"dataset_drift": False, "share_drifted": 0.25,
         "columns": {"x": {"drifted": True, "test": "ks", "statistic": 0.001, "threshold": 0.05,
                           "missing_share": {"reference": 0.0, "current": 0.2}},
                     "c": {"drifted": False, "test": "chisquare", "statistic": 0.4,
                           "threshold": 0.05, "new_categories": {"share": 0.1}}}}


def test_rules_parse_and_refuse_bad_entries() -> None:
    rules = parse_rules([{"metric": "accuracy", "below": 0.8, "for": 2},
                         {"metric": "missing_share", "column": "x", "above": 0.1}], "m.yaml")
    assert rules[0].name == "accuracy below 0.8 for 2 windows"
    for bad, message in [
        ({"metric": "acuracy", "below": 1}, "unknown metric 'acuracy'; did you mean 'accuracy'"),
        ({"metric": "accuracy"}, "exactly one of `above` or `below`"),
        ({"metric": "drift_score", "above": 0.1}, "needs a `column`"),
        ({"metric": "share_drifted", "above": 0.1, "for": 3}, "measured once per run"),
        ({"metric": "accuracy", "below": "high"}, "must be a number"),
        ({"metric": "accuracy", "below": 1, "when": 2}, "unknown key 'when'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_rules([bad], "m.yaml")


def test_breaches_read_the_latest_windows_and_columns() -> None:
    two = parse_rules([{"metric": "accuracy", "below": 0.8, "for": 2}], "m")[0]
    three = parse_rules([{"metric": "accuracy", "below": 0.8, "for": 3}], "m")[0]
    assert breach(two, None, PERF)["windows"] == [[10, 20], [20, 25]]
    assert breach(three, None, PERF) is None
    est = parse_rules([{"metric": "estimated_accuracy", "below": 0.85}], "m")[0]
    assert breach(est, None, PERF) is None  # 0.85 is not below 0.85
    miss = parse_rules([{"metric": "missing_share", "column": "x", "above": 0.1}], "m")[0]
    assert breach(miss, DRIFT, None)["value"] == 0.2
    new = parse_rules([{"metric": "new_category_share", "column": "c", "above": 0.05}], "m")[0]
    assert breach(new, DRIFT, None)["value"] == 0.1
    share = parse_rules([{"metric": "share_drifted", "above": 0.3}], "m")[0]
    assert breach(share, DRIFT, None) is None


def test_gauges_parse_as_prometheus_text() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    text = gauges_text(DRIFT, PERF, model='odd "name"', breached={"r1": True}, now=123.0)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    perf = {s.labels["metric"]: s.value for s in families["lathe_monitor_performance"].samples}
    assert perf == {"accuracy": 0.6}
    est = families["lathe_monitor_estimated_performance"].samples[0]
    assert (est.labels["metric"], est.value) == ("accuracy", 0.85)
    assert families["lathe_monitor_drift_share"].samples[0].labels["model"] == 'odd "name"'


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus)")
    return path


def test_promtool_accepts_the_gauges_and_the_alert_rules(tmp_path: Path) -> None:
    promtool = _promtool()
    rules = parse_rules([{"metric": "share_drifted", "above": 0.3},
                         {"metric": "drift_score", "column": "x", "below": 0.05},
                         {"metric": "estimated_accuracy", "below": 0.8}], "m")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(alert_rules(rules, model="churn")))
    ok = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yaml")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "SUCCESS: 4 rules found" in ok.stdout, ok.stdout + ok.stderr
    text = gauges_text(DRIFT, PERF, model="churn", breached={"r": False}, now=1.0)
    lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # the alert fires on the series the textfile exports
    series = [{"series": 'lathe_monitor_estimated_performance{model="churn",metric="accuracy"}',
               "values": "0.7x10"},
              {"series": 'lathe_monitor_drift_share{model="churn"}', "values": "0.1x10"}]
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series, "alert_rule_test": [
            {"eval_time": "5m", "alertname": "LatheMonitorRule3", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "model": "churn", "metric": "accuracy"},
                "exp_annotations": {"summary": "churn: estimated_accuracy below 0.8",
                                    "description": "lathe monitor run rule: estimated_accuracy "
                                                   "below 0.8"}}]},
            {"eval_time": "5m", "alertname": "LatheMonitorRule1", "exp_alerts": []}]}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    tested = subprocess.run([promtool, "test", "rules", str(tmp_path / "suite.yaml")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_monitor_run_breach_writes_event_gauges_and_posts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=800), "c": ["a", "b"] * 400}).to_csv(
        tmp_path / "ref.csv", index=False)
    pd.DataFrame({"x": rng.normal(1, size=800), "c": ["a", "b"] * 400}).to_csv(
        tmp_path / "cur.csv", index=False)
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "monitor.yaml"
        config.write_text(yaml.safe_dump({
            "reference": "ref.csv", "current": "cur.csv",
            "rules": [{"name": "x moved", "metric": "drifted", "column": "x", "above": 0.5},
                      {"metric": "share_drifted", "above": 0.9}],
            "outputs": {"events": "out/events.jsonl", "prometheus": "out/monitor.prom",
                        "prometheus_rules": "out/alerts.yaml",
                        "webhook": f"http://127.0.0.1:{server.server_port}/hook"}}))
        result = run_monitor(config)
    finally:
        server.shutdown()
        server.server_close()
    assert result["exit_code"] == ALERT_EXIT_CODE and result["breached"]
    assert [r["breached"] for r in result["rules"]] == [True, False]
    events = [json.loads(line) for line in (tmp_path / "out/events.jsonl").read_text().splitlines()]
    assert events[0]["rule"] == "x moved" and events[0]["value"] == 1.0
    assert Hook.received[-1]["events"][0]["rule"] == "x moved"
    assert result["outputs"]["webhook"]["ok"]
    prom = (tmp_path / "out/monitor.prom").read_text()
    assert 'lathe_monitor_rule_breached{model="cur.csv",rule="x moved"} 1' in prom.replace(
        str(tmp_path / "cur.csv"), "cur.csv")
    config.write_text(config.read_text().replace("share_drifted", "share_drifed"))
    with pytest.raises(ConfigError) as caught:
        run_monitor(config)
    assert caught.value.exit_code == 78 and "share_drifed" in str(caught.value)
