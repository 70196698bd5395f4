"""`lathe deploy k8s` for monitoring: the CronJobs for `lathe monitor run` and `lathe
retrain`, the monitor.yaml they run, Grafana panels and Prometheus alerts on the gauges the
monitor pushes (checked with promtool when it is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lathe.monitoring.alerts import parse_rules
from lathe.monitoring.prometheus import HEADERS, gauges_text
from lathe.monitoring.runner import KEYS, OUTPUTS
from lathe.serving.deploy_context import extras_for
from lathe.serving.deploy_manifests import alert_rules, grafana_dashboard, kubernetes_manifests


def _container(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("mode", ["bundled", "registry"])
def test_cronjobs_run_monitor_and_retrain_from_the_shared_log(mode: str) -> None:
    docs = kubernetes_manifests("churn", "reg/churn:1", mode=mode, ref="churn@champion")
    monitor, retrain = docs["monitor-cronjob.yaml"], docs["retrain-cronjob.yaml"]
    assert monitor["kind"] == retrain["kind"] == "CronJob"
    assert monitor["spec"]["schedule"] == "0 * * * *" and not monitor["spec"]["suspend"]
    assert monitor["spec"]["concurrencyPolicy"] == "Forbid"
    run = _container(monitor)
    assert run["image"] == "reg/churn:1" and run["command"] == ["python", "-m", "lathe.cli"]
    assert run["args"][:3] == ["monitor", "run", "--config"]
    train = _container(retrain)
    assert train["args"][:4] == ["retrain", "churn", "--data", "log:$(LATHE_PREDICTION_LOG)"]
    assert "--alias" in train["args"] and "challenger" in train["args"]
    for container in (run, train):
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                   if "valueFrom" in e}
        assert secrets["LATHE_PREDICTION_LOG"] == {"name": "lathe-churn-prediction-log",
                                                   "key": "url"}
        assert secrets["LATHE_STORE"]["name"] == "lathe-churn-store"
    # bundled: no registry to register a challenger in until one is set up
    assert retrain["spec"]["suspend"] is (mode == "bundled")
    server = docs["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    shared = next(e for e in server["env"] if e["name"] == "LATHE_PREDICTION_LOG")
    assert shared["valueFrom"]["secretKeyRef"]["optional"] is True


def test_the_monitor_config_in_the_config_map_is_a_valid_monitor_yaml() -> None:
    bundled = kubernetes_manifests("churn", "img", mode="bundled")["monitor-config.yaml"]
    config = yaml.safe_load(bundled["data"]["monitor.yaml"])
    assert set(config) <= KEYS and set(config["outputs"]) <= OUTPUTS
    assert config["model"] == "/app/models/churn"  # where the Dockerfile copies the model
    assert config["current"] == "log:${LATHE_PREDICTION_LOG}"
    assert parse_rules(config["rules"], "monitor.yaml")
    registry = kubernetes_manifests("churn", "img", mode="registry", ref="churn:3")
    assert yaml.safe_load(registry["monitor-config.yaml"]["data"]["monitor.yaml"])[
        "model"] == "churn:3"


def test_the_image_has_what_the_jobs_need() -> None:
    assert extras_for("bundled", "gbm", [], monitoring=True) == "serve,registry,monitor"
    assert extras_for("bundled", "gbm", []) == "serve"


def test_dashboard_panels_and_alerts_read_the_gauges_the_monitor_exports() -> None:
    dashboard = grafana_dashboard("churn@champion")
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    shown = {name for name in HEADERS if any(name in e for e in exprs)}
    assert shown == set(HEADERS) - {"lathe_monitor_dataset_drift", "lathe_monitor_column_drifted"}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exported = gauges_text({"dataset_drift": True, "share_drifted": 0.6, "columns": {}}, None,
                           model="churn@champion", breached={"r": True}, now=0)
    group = alert_rules("churn")["groups"][1]
    assert group["name"] == "lathe-churn.monitoring"
    for rule in group["rules"]:
        metric = next(name for name in HEADERS if name in rule["expr"])
        assert metric in exported, rule["alert"]


def test_promtool_fires_the_monitoring_alerts_on_pushed_series(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus)")
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(alert_rules("churn")))
    checked = subprocess.run([promtool, "check", "rules", "alerts.yaml"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pushed = '{instance="",job="lathe_monitor",model="churn@champion"}'
    other = '{instance="",job="lathe_monitor",model="churners@champion"}'
    suite = {"rule_files": ["alerts.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f"lathe_monitor_dataset_drift{pushed}", "values": "0x30 1x120"},
            {"series": f"lathe_monitor_dataset_drift{other}", "values": "1x150"},
            {"series": f"lathe_monitor_last_run_timestamp_seconds{pushed}",
             "values": "0x150"},
        ],
        "alert_rule_test": [
            {"eval_time": "60m", "alertname": "LatheInputDrift", "exp_alerts": []},
            {"eval_time": "120m", "alertname": "LatheInputDrift", "exp_alerts": [{
                "exp_labels": {"severity": "ticket", "model": "churn@champion"},
                "exp_annotations": {"summary": "churn@champion: the inputs drifted from the "
                                               "training data (lathe monitor run)"}}]},
            {"eval_time": "150m", "alertname": "LatheMonitorSilent", "exp_alerts": [{
                "exp_labels": {"severity": "ticket", "model": "churn@champion"},
                "exp_annotations": {"summary": "lathe-churn: lathe monitor run has not "
                                               "reported for 2 hours"}}]},
        ]}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    tested = subprocess.run([promtool, "test", "rules", "suite.yaml"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_config_maps_monitor_yaml_runs_on_what_the_server_logged(
        client_for, tmp_path: Path, adult_model_dir: Path, holdout_rows: list,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The monitor CronJob's config, as deployed, on a prediction log the real server wrote
    (the model served by path, as bundled mode does) with outcomes sent to /v1/feedback."""
    from contextlib import nullcontext

    import pandas as pd

    from lathe.monitoring.runner import run_monitor
    from tests.pushgateway import pushgateway, scrape

    url = f"sqlite:///{tmp_path}/predictions.db"
    client = client_for(models=[str(adult_model_dir)], prediction_log=url)
    truth = pd.read_csv(Path(__file__).resolve().parents[3] / "examples" / "data" /
                        "adult_holdout.csv", nrows=200)["income"].tolist()
    for k in range(10):
        body = client.post("/v1/models/adult/predict",
                           json={"rows": holdout_rows[k * 20:(k + 1) * 20]}).json()
        if k < 6:  # outcomes arrived for the first 120 rows
            sent = client.post("/v1/feedback", json={"request_id": body["request_id"],
                                                     "outcomes": truth[k * 20:(k + 1) * 20]})
            assert sent.status_code == 200, sent.text
    client.app.state.prediction_log.flush()
    config = yaml.safe_load(kubernetes_manifests("adult", "img", mode="bundled")[
        "monitor-config.yaml"]["data"]["monitor.yaml"])
    config["model"] = str(adult_model_dir)  # /app/models/adult in the image
    config["outputs"]["events"] = str(tmp_path / "events.jsonl")
    monkeypatch.setenv("LATHE_PREDICTION_LOG", url)
    have_gateway = bool(shutil.which("prometheus-pushgateway") or shutil.which("pushgateway"))
    with pushgateway() if have_gateway else nullcontext(None) as gateway:
        if gateway is None:
            config["outputs"].pop("pushgateway")
        else:
            config["outputs"]["pushgateway"] = gateway
        (tmp_path / "monitor.yaml").write_text(yaml.safe_dump(config))
        result = run_monitor(tmp_path / "monitor.yaml")
        page = scrape(gateway) if gateway else ""
    assert result["exit_code"] in (0, 3) and len(result["rules"]) == 3
    assert result["drift"][str(adult_model_dir)]["n_columns"] == 14
    window = next(iter(result["performance"].values()))
    assert window["n"] == 200 and window["n_labelled"] == 120
    assert isinstance(window["accuracy"], float) and isinstance(window["estimated_accuracy"],
                                                                 float)
    if gateway:
        assert result["outputs"]["pushgateway"]["ok"] and "lathe_monitor_drift_share" in page
