"""The Prometheus alert rules `lathe deploy` writes: promtool accepts them, refuses a broken
one, and `promtool test rules` fires them on series shaped like the server's /metrics."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from lathe.serving.deploy import alert_rules


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus)")
    return path


def test_promtool_accepts_the_alert_rules_and_rejects_a_broken_one(tmp_path):
    promtool = _promtool()
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(alert_rules("adult")))
    ok = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "alerts.yaml")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "SUCCESS: 6 rules found" in ok.stdout  # 3 on the server, 3 on the monitor
    rules = yaml.safe_load((tmp_path / "alerts.yaml").read_text())
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(lathe_errors_total[5m]) >"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(rules))
    bad = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "broken.yaml")], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "LatheHighErrorRate" in bad.stdout + bad.stderr


def test_alerts_fire_on_the_series_the_server_exports(tmp_path):
    """`promtool test rules` on synthetic series shaped like the server's /metrics: 2.9 % of
    one model's requests fail and its p99 is ~0.1 s; another model fails 0.3 % of the time."""
    promtool = _promtool()
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(alert_rules("adult")))
    job = 'job="lathe-adult"'

    def series(name: str, labels: str, values: str) -> dict[str, str]:
        return {"series": f"{name}{{{job},{labels}}}", "values": values}

    loud, calm = 'model="adult",version="v1"', 'model="calm",version="v7"'
    inputs = [
        series("lathe_requests_total", f'{loud},status="200"', "0+100x20"),
        series("lathe_requests_total", f'{loud},status="500"', "0+3x20"),
        series("lathe_errors_total", f'{loud},status="500"', "0+3x20"),
        series("lathe_requests_total", f'{calm},status="200"', "0+1000x20"),
        series("lathe_requests_total", f'{calm},status="500"', "0+3x20"),
        series("lathe_errors_total", f'{calm},status="500"', "0+3x20"),
        series("lathe_model_loaded", loud, "1x20"),
        series("lathe_model_loaded", calm, "1x20"),
    ]
    for le, per_minute in (("0.05", 0), ("0.1", 100), ("+Inf", 100)):
        inputs.append(
            series(
                "lathe_request_latency_seconds_bucket", f'{loud},le="{le}"', f"0+{per_minute}x20"
            )
        )
    summary = "adult: more than 1% of predictions fail with a server error"
    suite = {
        "rule_files": ["alerts.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": "LatheHighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "page", "model": "adult"},
                                "exp_annotations": {"summary": summary},
                            }
                        ],
                    },
                    {
                        "eval_time": "15m",
                        "alertname": "LatheHighP99Latency",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "ticket", "model": "adult"},
                                "exp_annotations": {
                                    "summary": "adult: p99 prediction latency above 50 ms"
                                },
                            }
                        ],
                    },
                    {"eval_time": "15m", "alertname": "LatheNotReady", "exp_alerts": []},
                ],
            }
        ],
    }
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    run = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
