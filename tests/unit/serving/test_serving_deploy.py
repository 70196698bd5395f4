"""`lathe deploy`: a build context that deploys the model (artifact checked at start-up,
lathe from a wheel), Kubernetes manifests and Secret templates, Prometheus rules, Grafana."""

from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from lathe.cli.serve import deploy, serve
from lathe.errors import NotFound, UsageError
from lathe.registry import open_registry
from lathe.serving.deploy import write_deploy
from lathe.serving.deploy_context import build_wheel

ROOT = Path(__file__).resolve().parents[3]
# The Kubernetes versions the manifests are checked against: an older one still in the
# validator's bundled schemas and the newest it bundles (kubernetes-validate 1.37).
KUBERNETES_VERSIONS = ("1.30", "1.37")
# every file `write_deploy("k8s", ...)` writes, by what checks it
KUBERNETES_MANIFESTS = {"deployment.yaml", "service.yaml", "hpa.yaml", "secret.yaml",
                        "monitor-config.yaml", "monitor-cronjob.yaml", "retrain-cronjob.yaml"}
PROMETHEUS_FILES = {"prometheus.yaml", "alerts.yaml"}
OTHER_FILES = {"Dockerfile", ".dockerignore", "dashboard.json", "deploy.json", "entrypoint.py",
               "make_keys.py", "README.md", "sbom.cdx.json"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lathe's wheel, built once (pip wheel of this project) for every deploy below."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory, adult_model_dir: Path) -> Path:
    """The Adult model as an artifact directory named churn."""
    target = tmp_path_factory.mktemp("art") / "churn"
    shutil.copytree(adult_model_dir, target)
    return target


def test_k8s_files_are_valid_and_complete(tmp_path, churn, wheel):
    result = write_deploy("k8s", str(churn), tmp_path, image="reg/churn:1", replicas=3,
                          wheel=wheel)
    names = set(result["files"])
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
    assert {"name": "PORT", "value": "8000"} in container["env"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "api-keys", "secret": {"secretName": "lathe-churn-api-keys"}} in volumes
    secret = yaml.safe_load((tmp_path / "secret.yaml").read_text())
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "lathe-churn-api-keys"
    assert "make_keys.py" in secret["stringData"]["keys.yaml"]
    service = yaml.safe_load((tmp_path / "service.yaml").read_text())
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    hpa = yaml.safe_load((tmp_path / "hpa.yaml").read_text())
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["minReplicas"] == 3
    assert hpa["spec"]["scaleTargetRef"]["name"] == "lathe-churn"


def test_alerts_and_dashboard_use_the_metrics_the_server_exports(
    tmp_path, client_for, adult_model_dir, wheel
):
    write_deploy("k8s", str(adult_model_dir), tmp_path, wheel=wheel)
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
def test_every_k8s_manifest_passes_the_kubernetes_schemas(tmp_path, kubernetes_version, churn,
                                                          wheel, registry_url):
    kv = _kubernetes_validate()
    bundled = write_deploy("k8s", str(churn), tmp_path / "b", replicas=3, wheel=wheel)
    shared = write_deploy("k8s", "churn", tmp_path / "r", store=registry_url, wheel=wheel)
    # a new file must be classified here, so no manifest escapes the schema check
    top = {f for f in bundled["files"] if "/" not in f}
    assert top == KUBERNETES_MANIFESTS | PROMETHEUS_FILES | OTHER_FILES
    assert {f.split("/")[0] for f in bundled["files"] if "/" in f} == {"models", "wheels"}
    assert {f for f in shared["files"] if "/" not in f} == top | {"store-secret.yaml"}
    for folder, name in [(tmp_path / "b", n) for n in sorted(KUBERNETES_MANIFESTS)] + [
            (tmp_path / "r", n) for n in sorted(KUBERNETES_MANIFESTS | {"store-secret.yaml"})]:
        documents = [d for d in yaml.safe_load_all((folder / name).read_text()) if d]
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
def test_the_schema_check_rejects_a_broken_manifest(tmp_path, breakage, where, churn, wheel):
    kv = _kubernetes_validate()
    write_deploy("k8s", str(churn), tmp_path, wheel=wheel)
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    broken = copy.deepcopy(deployment)
    breakage(broken)
    with pytest.raises(kv.ValidationError) as caught:
        kv.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    assert ".".join(str(part) for part in caught.value.path) == where


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory, churn: Path) -> str:
    """A registry holding churn:1 as champion (SQLite here; PostgreSQL works the same)."""
    root = tmp_path_factory.mktemp("registry")
    url = f"sqlite:///{root}/lathe.db"
    with open_registry(url) as registry:
        registry.register(churn, name="churn")
        registry.promote("churn", 1, force=True, reason="deploy test")
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keys(folder: Path) -> tuple[str, Path]:
    """Run the context's make_keys.py as a user would: the key on stderr, keys.yaml on stdout."""
    done = subprocess.run([sys.executable, str(folder / "make_keys.py"), "--name", "test"],
                          capture_output=True, text=True, check=True)
    (folder / "keys.yaml").write_text(done.stdout)
    return done.stderr.strip().splitlines()[-1], folder / "keys.yaml"


def _start(folder: Path, keys: Path, **env: str) -> tuple[subprocess.Popen, int]:
    """The image's ENTRYPOINT, run by this interpreter against the context's own files."""
    port = _free_port()
    environ = {**os.environ, "PORT": str(port), "LATHE_HOST": "127.0.0.1",
               "LATHE_API_KEYS": str(keys),
               "LATHE_PREDICTION_LOG": f"sqlite:///{folder.parent}/predictions.db",
               "PYTHONPATH": str(ROOT / "src"), **env}
    with open(folder.parent / "server.err", "w") as log:  # the child keeps its own handle
        proc = subprocess.Popen([sys.executable, str(folder / "entrypoint.py")], env=environ,
                                stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return proc, port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    proc.kill()
    raise AssertionError("the entrypoint's server did not become ready")


def _predict(port: int, route: str, rows: list, key: str | None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        conn.request("POST", f"/v1/models/{route}/predict", json.dumps({"rows": rows}), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _err(folder: Path) -> str:
    return (folder.parent / "server.err").read_text()


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(60)


def test_the_entrypoint_verifies_the_bundled_model_and_serves_it(tmp_path, churn, wheel,
                                                                holdout_rows):
    from lathe.model import Model

    out = tmp_path / "ctx"
    result = write_deploy("docker", str(churn), out, wheel=wheel)
    assert result["mode"] == "bundled" and result["route"] == "churn"
    # every COPY of the Dockerfile has its source in the context, and lathe comes from the
    # wheel with the serve extra: buildable from this folder alone
    docker = (out / "Dockerfile").read_text()
    for line in docker.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (out / source).exists(), source
    assert f'"/tmp/wheels/{wheel.name}[serve]"' in docker
    assert 'ENTRYPOINT ["python", "/app/entrypoint.py"]' in docker
    key, keys = _keys(out)
    proc, port = _start(out, keys)
    try:
        assert proc.poll() is None, _err(out)
        status, body = _predict(port, "churn", holdout_rows[:5], key)
        assert status == 200, body
        expected = Model.load(churn).predict(pd.DataFrame(holdout_rows[:5]))
        assert [p["label"] for p in body["predictions"]] == list(expected)
        assert _predict(port, "churn", holdout_rows[:1], None)[0] == 401
    finally:
        code = _stop(proc)
    assert code == 0
    assert "verified" in _err(out)


def test_a_tampered_model_stops_the_container_at_start(tmp_path, churn, wheel):
    out = tmp_path / "ctx"
    write_deploy("docker", str(churn), out, wheel=wheel)
    _, keys = _keys(out)
    booster = out / "models" / "churn" / "model" / "lightgbm.txt"
    booster.write_text(booster.read_text().replace("shrinkage", "shrinkage ", 1))
    proc, _ = _start(out, keys)
    assert proc.wait(60) == 65
    lines = [line for line in _err(out).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the model in this image failed")
    assert "lightgbm.txt" in lines[0]


def test_registry_mode_serves_the_champion_from_the_shared_store(tmp_path, registry_url, wheel,
                                                                holdout_rows, adult_model_dir_b):
    out = tmp_path / "ctx"
    result = write_deploy("k8s", "churn", out, store=registry_url, wheel=wheel)
    assert result["mode"] == "registry" and result["ref"] == "churn@champion"
    assert result["version"] == 1 and not (out / "models").exists()
    # k8s: the monitoring CronJobs run from the same image (monitor extra)
    assert '[serve,registry,monitor]"' in (out / "Dockerfile").read_text()
    deployment = yaml.safe_load((out / "deployment.yaml").read_text())
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "LATHE_STORE", "valueFrom": {"secretKeyRef": {
        "name": "lathe-churn-store", "key": "url"}}} in env
    key, keys = _keys(out)
    proc, port = _start(out, keys, LATHE_STORE=registry_url)
    try:
        assert proc.poll() is None, _err(out)
        status, body = _predict(port, "churn", holdout_rows[:3], key)
        assert status == 200 and len(body["predictions"]) == 3
        first = body["version"]
        # the champion moves in the shared registry: the running pod follows it
        second = tmp_path / "v2" / "churn"
        shutil.copytree(adult_model_dir_b, second)
        with open_registry(registry_url) as registry:
            registry.register(second, name="churn")
            registry.promote("churn", 2, force=True, reason="follow test")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = _predict(port, "churn", holdout_rows[:1], key)
            if body.get("version") != first:
                break
            time.sleep(0.5)
        assert status == 200 and body["version"] != first
    finally:
        assert _stop(proc) == 0
        with open_registry(registry_url) as registry:  # the module's registry as it was
            registry.promote("churn", 1, force=True, reason="test done")


def test_unknown_names_are_refused_and_nothing_is_written(tmp_path, registry_url, wheel):
    out = tmp_path / "deploy"
    with pytest.raises(NotFound, match="nosuchmodel"):
        write_deploy("k8s", "nosuchmodel", out, wheel=wheel)
    with pytest.raises(NotFound):
        write_deploy("k8s", "nosuchmodel", out, store=registry_url, wheel=wheel)
    with pytest.raises(NotFound):
        write_deploy("k8s", "churn:7", out, store=registry_url, wheel=wheel)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="valid targets"):
        write_deploy("nomad", "churn", out, store=registry_url, wheel=wheel)


def test_a_container_engine_builds_and_runs_the_image(tmp_path, churn, wheel):
    engine = shutil.which("podman") or shutil.which("docker")
    if engine is None:
        pytest.skip("no container engine (podman or docker) on PATH; the entrypoint test "
                    "above runs the image's start-up with this interpreter instead")
    probe = subprocess.run([engine, "image", "exists", "python:3.11-slim"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{engine} has no python:3.11-slim image and this machine cannot pull one "
                    "(no registry access): the build is checked by the context test above")
    out = tmp_path / "ctx"
    result = write_deploy("docker", str(churn), out, wheel=wheel)
    build = subprocess.run([engine, "build", "-t", result["image"], str(out)],
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stderr[-2000:]


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    return app


def test_deploy_json_and_one_line_refusals(tmp_path, churn, wheel):
    from lathe.cli import main

    runner = CliRunner()
    result = runner.invoke(_cli(), ["deploy", "k8s", str(churn), "--out", str(tmp_path / "d"),
                                    "--wheel", str(wheel), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["route"] == "churn" and "deployment.yaml" in payload["files"]
    assert payload["commands"]["secret"].startswith("kubectl create secret generic "
                                                    "lathe-churn-api-keys")
    readme = (tmp_path / "d" / "README.md").read_text()
    assert payload["commands"]["secret"] in readme and "make_keys.py" in readme
    code = main(["deploy", "k8s", "nosuchmodel", "--out", str(tmp_path / "x")])
    assert code == 66 and not (tmp_path / "x").exists()
    refused = runner.invoke(_cli(), ["serve", "m", "--host", "0.0.0.0"])
    assert isinstance(refused.exception, UsageError)
    assert "without API keys is refused" in str(refused.exception)
    assert "--no-batching" in runner.invoke(_cli(), ["serve", "--help"]).output


PG_SERVER = os.environ.get("LATHE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def test_registry_mode_on_postgresql(tmp_path, churn, wheel, holdout_rows):
    """The same pod start-up against a PostgreSQL registry (its own schema, dropped after)."""
    import uuid

    psycopg = pytest.importorskip("psycopg", reason="the registry extra (psycopg) is missing")
    try:
        psycopg.connect(PG_SERVER, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        pytest.skip(f"no PostgreSQL server answers at {PG_SERVER}: {type(exc).__name__}")
    schema = f"lathe_t_{uuid.uuid4().hex[:12]}"
    url, blobs = f"{PG_SERVER}?schema={schema}", tmp_path / "blobs"
    try:
        with open_registry(url, blobs) as registry:
            registry.register(churn, name="churn")
            registry.promote("churn", 1, force=True, reason="deploy test")
        out = tmp_path / "ctx"
        result = write_deploy("k8s", "churn", out, store=url, wheel=wheel)
        assert result["ref"] == "churn@champion" and result["version"] == 1
        with pytest.raises(NotFound):
            write_deploy("k8s", "nosuchmodel", tmp_path / "no", store=url, wheel=wheel)
        key, keys = _keys(out)
        proc, port = _start(out, keys, LATHE_STORE=url, LATHE_BLOBS=str(blobs))
        try:
            assert proc.poll() is None, _err(out)
            status, body = _predict(port, "churn", holdout_rows[:2], key)
            assert status == 200 and len(body["predictions"]) == 2
        finally:
            assert _stop(proc) == 0
    finally:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
