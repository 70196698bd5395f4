"""`lathe deploy`: Dockerfile, Kubernetes manifests, Prometheus rules, Grafana dashboard."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lathe.cli.serve import deploy, serve
from lathe.errors import UsageError
from lathe.serving.deploy import EXTRAS, write_deploy

ROOT = Path(__file__).resolve().parents[3]
# The Kubernetes versions the manifests are checked against: an older one still in the
# validator's bundled schemas and the newest it bundles (kubernetes-validate 1.37).
KUBERNETES_VERSIONS = ("1.30", "1.37")
# every file `write_deploy("k8s", ...)` writes, by what checks it
KUBERNETES_MANIFESTS = {"deployment.yaml", "service.yaml", "hpa.yaml"}
PROMETHEUS_FILES = {"prometheus.yaml", "alerts.yaml"}
OTHER_FILES = {"Dockerfile", ".dockerignore", "dashboard.json"}


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


def _kubernetes_validate():
    return pytest.importorskip(
        "kubernetes_validate",
        reason="the Kubernetes schema check needs kubernetes-validate (the dev extra)",
    )


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_every_k8s_manifest_passes_the_kubernetes_schemas(tmp_path, kubernetes_version):
    kv = _kubernetes_validate()
    written = {p.name: p for p in write_deploy("k8s", "churn@champion", tmp_path, replicas=3)}
    # a new file must be classified here, so no manifest escapes the schema check
    assert set(written) == KUBERNETES_MANIFESTS | PROMETHEUS_FILES | OTHER_FILES
    for name in sorted(KUBERNETES_MANIFESTS):
        documents = [d for d in yaml.safe_load_all(written[name].read_text()) if d]
        assert documents, name
        for manifest in documents:
            # strict: an unknown (e.g. misspelt) field is an error, as `kubectl apply` says
            kv.validate(manifest, kubernetes_version, strict=True)


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
                containerPort="http"
            ),
            "spec.template.spec.containers.0.ports.0.containerPort",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(readynessProbe={}),
            "spec.template.spec.containers.0",
        ),
        (lambda d: d["spec"].pop("selector"), "spec"),
    ],
    ids=["port-name-as-number", "misspelt-field", "no-selector"],
)
def test_the_schema_check_rejects_a_broken_manifest(tmp_path, breakage, where):
    kv = _kubernetes_validate()
    write_deploy("k8s", "churn", tmp_path)
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    broken = copy.deepcopy(deployment)
    breakage(broken)
    with pytest.raises(kv.ValidationError) as caught:
        kv.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    assert ".".join(str(part) for part in caught.value.path) == where


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus)")
    return path


def test_promtool_accepts_the_alert_rules_and_rejects_a_broken_one(tmp_path):
    promtool = _promtool()
    write_deploy("k8s", "adult", tmp_path)
    ok = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "alerts.yaml")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "SUCCESS: 3 rules found" in ok.stdout
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
    write_deploy("k8s", "adult", tmp_path)
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


def _makefile_install() -> tuple[str, list[str]]:
    """The Makefile's interpreter and the pip commands of its `install` recipe."""
    makefile = (ROOT / "Makefile").read_text()
    python = re.search(r"^PYTHON\s*\?=\s*python(\S+)", makefile, re.MULTILINE)
    assert python, "the Makefile names no PYTHON ?= pythonX.Y"
    commands = [line.strip() for line in makefile.splitlines() if "-m pip install" in line]
    assert commands, "the Makefile has no pip install line"
    return python.group(1), commands


def test_dockerfile_installs_like_the_makefile_and_refuses_open_auth(tmp_path):
    write_deploy("docker", "models/adult", tmp_path)
    text = (tmp_path / "Dockerfile").read_text()
    python, commands = _makefile_install()
    assert f"FROM python:{python}-slim" in text.splitlines()
    # the README's install is `make install`: the same pip commands, run by the image's
    # python, non-editable (the image is not a working copy), with the server's extras
    expected = " && ".join(
        c.replace("$(BIN)/python", "python").replace(" -e ", " ").replace("$(EXTRAS)", EXTRAS)
        for c in commands
    )
    assert f"RUN {expected}" in text.splitlines()
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    all_extras = set(re.fullmatch(r"lathe\[(.*)\]", optional["all"][0]).group(1).split(","))
    assert set(EXTRAS.split(",")) <= all_extras  # the image installs a subset of `make install`
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
