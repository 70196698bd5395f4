"""`lathe deploy docker|k8s NAME`: the files that put a lathe model server into production.

docker: Dockerfile (the same `pip install '.[EXTRAS]'` as the Makefile) and .dockerignore.
k8s:    the docker files plus Deployment (probes, resources, keys from a Secret), Service,
        HorizontalPodAutoscaler, Prometheus scrape config and alert rules (error rate,
        p99 latency), and a Grafana dashboard JSON.

>>> import tempfile, pathlib
>>> files = write_deploy("k8s", "churn@champion", pathlib.Path(tempfile.mkdtemp()))
>>> sorted(p.name for p in files)  # doctest: +NORMALIZE_WHITESPACE
['.dockerignore', 'Dockerfile', 'alerts.yaml', 'dashboard.json', 'deployment.yaml',
 'hpa.yaml', 'prometheus.yaml', 'service.yaml']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lathe.errors import UsageError

__all__ = ["write_deploy", "kubernetes_manifests", "dockerfile", "alert_rules", "grafana_dashboard"]

PORT = 8000
PYTHON = "3.11"  # the Makefile's python3.11
EXTRAS = "serve,registry,onnx"
# the Makefile's two install commands, with the server's extras (a test holds them equal)
INSTALL = (
    f"python -m pip install --quiet --upgrade pip && python -m pip install --quiet '.[{EXTRAS}]'"
)


def _app_name(model: str) -> str:
    base = re.split(r"[@:]", Path(model).name or model)[0].lower()
    slug = re.sub(r"[^a-z0-9-]+", "-", base).strip("-") or "model"
    return f"lathe-{slug}"[:63]


def dockerfile(model: str) -> str:
    return f"""\
# Built from the lathe source tree: docker build -f deploy/Dockerfile -t IMAGE .
FROM python:{PYTHON}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# LightGBM's wheels link the system OpenMP runtime, which the slim image does not have
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \\
    && rm -rf /var/lib/apt/lists/*
# /data (registry and prediction log) belongs to the server's user, so a fresh volume mounted
# there is writable too
RUN useradd --create-home --uid 10001 lathe && mkdir -p /data && chown lathe:lathe /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# the same install as `make install` (non-editable), with the extras a server needs
RUN {INSTALL}
USER lathe
ENV LATHE_MODEL="{model}" LATHE_STORE="sqlite:////data/lathe.db" PORT={PORT}
EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{{os.environ[\\"PORT\\"]}}/healthz')"
# API keys come from a mounted file (a Kubernetes Secret); the server refuses to listen on
# 0.0.0.0 without them
CMD ["sh", "-c", "exec lathe serve \\"$LATHE_MODEL\\" --host 0.0.0.0 --port \\"$PORT\\" --api-keys /etc/lathe/keys.yaml --prediction-log sqlite:////data/predictions.db"]
"""


DOCKERIGNORE = """\
.venv
.git
.lathe
**/__pycache__
*.pyc
tests
bench/results
deploy
"""


def kubernetes_manifests(model: str, image: str, replicas: int = 2) -> dict[str, dict[str, Any]]:
    app = _app_name(model)
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "lathe"}
    probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": "server",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [
                                {"name": "LATHE_MODEL", "value": model},
                                {"name": "PORT", "value": str(PORT)},
                            ],
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "readinessProbe": {
                                **probe,
                                "httpGet": {"path": "/readyz", "port": "http"},
                                "initialDelaySeconds": 2,
                                "failureThreshold": 3,
                            },
                            "livenessProbe": {
                                **probe,
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "initialDelaySeconds": 10,
                                "failureThreshold": 3,
                            },
                            "startupProbe": {
                                **probe,
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 2,
                                "failureThreshold": 30,
                            },
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"cpu": "2", "memory": "1Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": False,
                            },
                            "volumeMounts": [
                                {"name": "api-keys", "mountPath": "/etc/lathe", "readOnly": True},
                                {"name": "data", "mountPath": "/data"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "api-keys", "secret": {"secretName": f"{app}-api-keys"}},
                        {"name": "data", "emptyDir": {}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "type": "ClusterIP",
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": app, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": replicas,
            "maxReplicas": max(replicas * 5, replicas + 1),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    return {"deployment.yaml": deployment, "service.yaml": service, "hpa.yaml": hpa}


def prometheus_scrape(model: str) -> dict[str, Any]:
    app = _app_name(model)
    return {
        "scrape_configs": [
            {
                "job_name": app,
                "metrics_path": "/metrics",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                        "regex": app,
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                        "regex": "http",
                        "action": "keep",
                    },
                ],
            }
        ],
        "rule_files": ["alerts.yaml"],
    }


def alert_rules(
    model: str, *, max_error_rate: float = 0.01, max_p99_s: float = 0.05
) -> dict[str, Any]:
    app = _app_name(model)
    job = f'job="{app}"'
    errors = f'sum by (model) (rate(lathe_errors_total{{{job},status=~"5.."}}[5m]))'
    total = f"sum by (model) (rate(lathe_requests_total{{{job}}}[5m]))"
    p99 = (
        "histogram_quantile(0.99, sum by (model, le) "
        f"(rate(lathe_request_latency_seconds_bucket{{{job}}}[5m])))"
    )
    return {
        "groups": [
            {
                "name": f"{app}.rules",
                "rules": [
                    {
                        "alert": "LatheHighErrorRate",
                        "expr": f"({errors}) / clamp_min({total}, 1e-9) > {max_error_rate}",
                        "for": "5m",
                        "labels": {"severity": "page"},
                        "annotations": {
                            "summary": "{{ $labels.model }}: more than "
                            f"{max_error_rate:.0%} of predictions fail with a server error",
                        },
                    },
                    {
                        "alert": "LatheHighP99Latency",
                        "expr": f"{p99} > {max_p99_s}",
                        "for": "10m",
                        "labels": {"severity": "ticket"},
                        "annotations": {
                            "summary": "{{ $labels.model }}: p99 prediction latency above "
                            f"{max_p99_s * 1000:g} ms",
                        },
                    },
                    {
                        "alert": "LatheNotReady",
                        "expr": f"sum(lathe_model_loaded{{{job}}}) < 1",
                        "for": "5m",
                        "labels": {"severity": "page"},
                        "annotations": {"summary": f"{app}: no model version is loaded"},
                    },
                ],
            }
        ]
    }


def grafana_dashboard(model: str) -> dict[str, Any]:
    app = _app_name(model)
    job = f'job="{app}"'

    def panel(pid: int, title: str, expr: str, unit: str, x: int, y: int) -> dict[str, Any]:
        return {
            "id": pid,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": "{{model}} {{version}}"}],
        }

    return {
        "title": f"lathe · {app}",
        "uid": app[:40],
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]
        },
        "panels": [
            panel(
                1,
                "Requests / s",
                f"sum by (model, version) (rate(lathe_requests_total{{{job}}}[1m]))",
                "reqps",
                0,
                0,
            ),
            panel(
                2,
                "Errors / s by status",
                f"sum by (model, status) (rate(lathe_errors_total{{{job}}}[1m]))",
                "reqps",
                12,
                0,
            ),
            panel(
                3,
                "Latency p50 / p99",
                "histogram_quantile(0.99, sum by (model, version, le) "
                f"(rate(lathe_request_latency_seconds_bucket{{{job}}}[5m])))",
                "s",
                0,
                8,
            ),
            panel(
                4,
                "Rows predicted / s",
                f"sum by (model, version) (rate(lathe_rows_predicted_total{{{job}}}[1m]))",
                "rowsps",
                12,
                8,
            ),
            panel(
                5,
                "Mean requests per model call (micro-batching)",
                f"sum by (model) (rate(lathe_batch_requests_sum{{{job}}}[5m])) / "
                f"sum by (model) (rate(lathe_batch_requests_count{{{job}}}[5m]))",
                "short",
                0,
                16,
            ),
            panel(6, "Served version", f"lathe_model_loaded{{{job}}} == 1", "short", 12, 16),
        ],
    }


def _yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def write_deploy(
    target: str, model: str, out: str | Path, *, image: str | None = None, replicas: int = 2
) -> list[Path]:
    """Write the files for `target` ('docker' or 'k8s') into `out`; returns their paths."""
    if target not in ("docker", "k8s"):
        raise UsageError(f"unknown deploy target {target!r}; valid targets are 'docker' and 'k8s'")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {"Dockerfile": dockerfile(model), ".dockerignore": DOCKERIGNORE}
    if target == "k8s":
        image = image or f"{_app_name(model)}:latest"
        for filename, manifest in kubernetes_manifests(model, image, replicas).items():
            files[filename] = _yaml(manifest)
        files["prometheus.yaml"] = _yaml(prometheus_scrape(model))
        files["alerts.yaml"] = _yaml(alert_rules(model))
        files["dashboard.json"] = json.dumps(grafana_dashboard(model), indent=2) + "\n"
    written = []
    for filename, text in files.items():
        path = folder / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
