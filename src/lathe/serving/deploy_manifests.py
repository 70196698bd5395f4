"""Kubernetes, Prometheus and Grafana documents for a served lathe model (pure dicts).

`kubernetes_manifests` gives the Deployment (probes, resources, API keys from a Secret),
Service, HorizontalPodAutoscaler, the Secret templates and the monitoring documents (a
ConfigMap with monitor.yaml, CronJobs for `lathe monitor run` and `lathe retrain`: see
deploy_monitoring.py); `prometheus_scrape`,
`alert_rules` and `grafana_dashboard` watch the metrics the server exports. The mode is
"bundled" (the model is in the image) or "registry" (the pod resolves NAME@champion from a
shared registry and follows the alias). New documents (e.g. monitoring CronJobs) are new
entries of the dict `kubernetes_manifests` returns.

>>> docs = kubernetes_manifests("churn", "lathe-churn:1", mode="bundled")
>>> sorted(docs)[:4], docs["deployment.yaml"]["metadata"]["name"]
(['deployment.yaml', 'hpa.yaml', 'monitor-config.yaml', 'monitor-cronjob.yaml'], 'lathe-churn')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lathe.serving.deploy_monitoring import (
    LOG_ENV,
    monitoring_alerts,
    monitoring_manifests,
    monitoring_panels,
)

__all__ = ["app_name", "kubernetes_manifests", "prometheus_scrape", "alert_rules",
           "grafana_dashboard", "PORT", "BLOBS_CLAIM"]

PORT = 8000
BLOBS_CLAIM = "lathe-blobs"  # registry mode: the PersistentVolumeClaim holding the blob folder


def app_name(model: str) -> str:
    base = re.split(r"[@:]", Path(model).name or model)[0].lower()
    slug = re.sub(r"[^a-z0-9-]+", "-", base).strip("-") or "model"
    return f"lathe-{slug}"[:63]


def _secret(name: str, labels: dict[str, str], key: str, text: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels},
            "type": "Opaque", "stringData": {key: text}}


KEYS_TEMPLATE = """\
# A TEMPLATE: replace it with real keys before the server can answer (it refuses to listen
# on 0.0.0.0 without them). Fill it with the commands in README.md:
#   python make_keys.py --name CLIENT > keys.yaml
#   kubectl create secret generic {name} --from-file=keys.yaml --dry-run=client -o yaml
keys: []
"""


def kubernetes_manifests(model: str, image: str, replicas: int = 2, *,
                         mode: str = "bundled", ref: str | None = None
                         ) -> dict[str, dict[str, Any]]:
    """Deployment, Service, HPA, Secret templates and the monitoring CronJobs; `mode`
    "registry" adds the store's Secret and mounts the shared blob folder (claim
    `BLOBS_CLAIM`) at /blobs. `ref` is the registry reference served (NAME@champion)."""
    app = app_name(model)
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "lathe"}
    env: list[dict[str, Any]] = [
        {"name": "PORT", "value": str(PORT)},
        # a shared prediction log (e.g. PostgreSQL) when the Secret exists, for the monitoring
        # CronJobs to read; without it the pod logs to /data (its own emptyDir)
        {"name": LOG_ENV, "valueFrom": {"secretKeyRef": {
            "name": f"{app}-prediction-log", "key": "url", "optional": True}}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "api-keys", "mountPath": "/etc/lathe", "readOnly": True},
        {"name": "data", "mountPath": "/data"},  # the prediction log of this pod
        {"name": "tmp", "mountPath": "/tmp"},  # the root filesystem is read-only
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "api-keys", "secret": {"secretName": f"{app}-api-keys"}},
        {"name": "data", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if mode == "registry":
        env += [{"name": "LATHE_STORE", "valueFrom": {"secretKeyRef": {
                    "name": f"{app}-store", "key": "url"}}},
                {"name": "LATHE_BLOBS", "value": "/blobs"}]
        mounts.append({"name": "blobs", "mountPath": "/blobs", "readOnly": True})
        volumes.append({"name": "blobs", "persistentVolumeClaim": {
            "claimName": BLOBS_CLAIM, "readOnly": True}})
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
                            "env": env,
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
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
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
    docs = {"deployment.yaml": deployment, "service.yaml": service, "hpa.yaml": hpa,
            "secret.yaml": _secret(f"{app}-api-keys", labels, "keys.yaml",
                                   KEYS_TEMPLATE.format(name=f"{app}-api-keys"))}
    if mode == "registry":
        docs["store-secret.yaml"] = _secret(
            f"{app}-store", labels, "url",
            "postgresql://USER:PASSWORD@HOST:5432/DB")  # a template: README.md fills it
    served = f"/app/models/{model}" if mode == "bundled" else (ref or f"{model}@champion")
    docs.update(monitoring_manifests(app, image, mode=mode, model=served, labels=labels))
    return docs


def prometheus_scrape(model: str) -> dict[str, Any]:
    app = app_name(model)
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
    app = app_name(model)
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
            },
            # the gauges `lathe monitor run` pushes (the monitor CronJob)
            {"name": f"{app}.monitoring", "rules": monitoring_alerts(model, app)},
        ]
    }


def grafana_dashboard(model: str) -> dict[str, Any]:
    app = app_name(model)
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
            # drift and performance from `lathe monitor run` (pushed by the monitor CronJob)
            *monitoring_panels(re.split(r"[@:]", Path(model).name or model)[0], 7, 24),
        ],
    }


