"""`lathe deploy`: Dockerfile, Kubernetes manifests, Prometheus rules, Grafana dashboard."""

from __future__ import annotations

import json

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lathe.errors import UsageError
from lathe.serving.cli import deploy, serve
from lathe.serving.deploy import write_deploy


def test_k8s_files_are_valid_and_complete(tmp_path):
    written = write_deploy("k8s", "churn@champion", tmp_path, image="reg/churn:1", replicas=3)
    names = {p.name for p in written}
    assert {
        "Dockerfile",
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "alerts.yaml",
        "prometheus.yaml",
        "dashboard.json",
    } <= names
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    assert deployment["apiVersion"] == "apps/v1" and deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == "lathe-churn"
    assert (
        deployment["spec"]["selector"]["matchLabels"]
        == deployment["spec"]["template"]["metadata"]["labels"]
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "reg/churn:1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"name": "LATHE_MODEL", "value": "churn@champion"} in container["env"]
    service = yaml.safe_load((tmp_path / "service.yaml").read_text())
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    hpa = yaml.safe_load((tmp_path / "hpa.yaml").read_text())
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["minReplicas"] == 3
    assert hpa["spec"]["scaleTargetRef"]["name"] == "lathe-churn"


def test_alerts_and_dashboard_use_the_metrics_the_server_exports(
    tmp_path, client_for, adult_model_dir
):
    write_deploy("k8s", "adult", tmp_path)
    rules = yaml.safe_load((tmp_path / "alerts.yaml").read_text())["groups"][0]["rules"]
    alerts = {r["alert"]: r for r in rules}
    assert "lathe_errors_total" in alerts["LatheHighErrorRate"]["expr"]
    assert "histogram_quantile(0.99" in alerts["LatheHighP99Latency"]["expr"]
    assert "> 0.05" in alerts["LatheHighP99Latency"]["expr"]
    dashboard = json.loads((tmp_path / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    exported = client_for(models=[str(adult_model_dir)]).get("/metrics").text
    for metric in (
        "lathe_requests_total",
        "lathe_errors_total",
        "lathe_request_latency_seconds_bucket",
        "lathe_rows_predicted_total",
        "lathe_batch_requests_sum",
        "lathe_model_loaded",
    ):
        assert metric in exprs + " ".join(r["expr"] for r in rules)
        assert metric.rsplit("_", 1)[0] in exported


def test_dockerfile_installs_like_the_makefile_and_refuses_open_auth(tmp_path):
    write_deploy("docker", "models/adult", tmp_path)
    text = (tmp_path / "Dockerfile").read_text()
    assert "pip install '.[serve,registry,onnx]'" in text
    assert "--api-keys /etc/lathe/keys.yaml" in text and "--host 0.0.0.0" in text
    assert not (tmp_path / "deployment.yaml").exists()
    with pytest.raises(UsageError, match="valid targets"):
        write_deploy("nomad", "adult", tmp_path)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    return app


def test_deploy_and_serve_commands(tmp_path):
    runner = CliRunner()
    result = runner.invoke(_cli(), ["deploy", "k8s", "churn", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "deployment.yaml" in result.output
    refused = runner.invoke(_cli(), ["serve", "m", "--host", "0.0.0.0"])
    assert isinstance(refused.exception, UsageError)
    assert "without API keys is refused" in str(refused.exception)
    assert "--no-batching" in runner.invoke(_cli(), ["serve", "--help"]).output
