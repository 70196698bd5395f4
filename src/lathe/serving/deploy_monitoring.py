"""What `lathe deploy k8s` adds for monitoring and continuous learning (pure dicts):

* `monitor-config.yaml`, a ConfigMap holding monitor.yaml for the model: drift of the last
  day of the prediction log against the model's training profile, performance per 6 hours
  with the outcomes joined, default alert rules, gauges pushed to a Pushgateway;
* `monitor-cronjob.yaml`, a CronJob running `lathe monitor run` every hour (a breached rule
  exits 3, so the Job fails and shows up in `kubectl get jobs` and kube-state-metrics);
* `retrain-cronjob.yaml`, a CronJob running `lathe retrain` weekly on the log's labelled rows
  of the last 30 days, registering a challenger (alias `challenger`, never champion: the
  registry's gate or an experiment promotes it). It needs a registry: in bundled mode it is
  written suspended, with the reason in an annotation.

The jobs and the server share the prediction log through the Secret `APP-prediction-log`
(key `url`, e.g. a PostgreSQL URL): the Deployment reads it when present (optional), the
jobs require it. `monitoring_panels` and `monitoring_alerts` extend the Grafana dashboard and
the Prometheus rules with the gauges `lathe monitor run` pushes (lathe.monitoring.prometheus).

>>> docs = monitoring_manifests("lathe-churn", "img:1", mode="registry", model="churn@champion",
...                             labels={"app": "lathe-churn"})
>>> sorted(docs)
['monitor-config.yaml', 'monitor-cronjob.yaml', 'retrain-cronjob.yaml']
>>> docs["retrain-cronjob.yaml"]["spec"]["suspend"]
False
"""

from __future__ import annotations

from typing import Any

__all__ = ["monitoring_manifests", "monitoring_panels", "monitoring_alerts", "monitor_config",
           "PUSHGATEWAY", "LOG_ENV"]

PUSHGATEWAY = "http://pushgateway:9091"  # the in-cluster Prometheus Pushgateway Service
LOG_ENV = "LATHE_PREDICTION_LOG"
CONFIG_DIR = "/etc/lathe-monitor"


def monitor_config(model: str) -> dict[str, Any]:
    """monitor.yaml for `model` inside the pod (paths and URLs from the environment)."""
    return {
        "model": model,
        "current": f"log:${{{LOG_ENV}}}",
        "recent": "1d",
        "window": "6h",
        "rules": [
            {"name": "inputs drifted", "metric": "dataset_drift", "above": 0.5},
            {"name": "estimated accuracy fell", "metric": "estimated_accuracy", "below": 0.7},
            {"name": "accuracy fell", "metric": "accuracy", "below": 0.7, "for": 2},
        ],
        "outputs": {"pushgateway": PUSHGATEWAY, "events": "/tmp/lathe-monitor/events.jsonl"},
    }


def _env(app: str, mode: str) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": LOG_ENV, "valueFrom": {"secretKeyRef": {
        "name": f"{app}-prediction-log", "key": "url"}}}]
    if mode == "registry":
        env += [{"name": "LATHE_STORE", "valueFrom": {"secretKeyRef": {
                    "name": f"{app}-store", "key": "url"}}},
                {"name": "LATHE_BLOBS", "value": "/blobs"}]
    else:  # bundled: retraining needs a registry all the same (the Job is suspended)
        env.append({"name": "LATHE_STORE", "valueFrom": {"secretKeyRef": {
            "name": f"{app}-store", "key": "url", "optional": True}}})
    return env


def _cronjob(app: str, job: str, labels: dict[str, str], image: str, schedule: str,
             args: list[str], mode: str, *, suspend: bool = False,
             config: bool = False, note: str | None = None) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "scratch", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "scratch", "emptyDir": {}}]
    if config:
        mounts.append({"name": "monitor-config", "mountPath": CONFIG_DIR, "readOnly": True})
        volumes.append({"name": "monitor-config", "configMap": {"name": f"{app}-monitor"}})
    if mode == "registry":
        mounts.append({"name": "blobs", "mountPath": "/blobs"})
        volumes.append({"name": "blobs", "persistentVolumeClaim": {"claimName": "lathe-blobs"}})
    meta: dict[str, Any] = {"name": f"{app}-{job}",
                            "labels": {**labels, "app.kubernetes.io/component": job}}
    if note:
        meta["annotations"] = {"lathe/note": note}
    container = {
        "name": job, "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "lathe.cli"], "args": args, "env": _env(app, mode),
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                      "limits": {"cpu": "2", "memory": "4Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
        "spec": {
            "schedule": schedule, "concurrencyPolicy": "Forbid", "suspend": suspend,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 5,
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": {
                "metadata": {"labels": dict(meta["labels"])},
                "spec": {"restartPolicy": "Never",
                         "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                         "containers": [container], "volumes": volumes}}}},
        },
    }


def monitoring_manifests(app: str, image: str, *, mode: str, model: str,
                         labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The ConfigMap and the two CronJobs (see the module docstring); `model` is what the
    pod names the model: `/app/models/ROUTE` (bundled) or `NAME@alias` (registry)."""
    import yaml

    route = model.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": f"{app}-monitor", "labels": dict(labels)},
                  "data": {"monitor.yaml": yaml.safe_dump(monitor_config(model),
                                                          sort_keys=False)}}
    monitor = _cronjob(app, "monitor", labels, image, "0 * * * *",
                       ["monitor", "run", "--config", f"{CONFIG_DIR}/monitor.yaml", "--json"],
                       mode, config=True)
    bundled = mode != "registry"
    retrain = _cronjob(
        app, "retrain", labels, image, "0 3 * * 0",
        ["retrain", route, "--data", f"log:$({LOG_ENV})", "--window", "30d", "--base", "none",
         "--alias", "challenger", "--json"], mode, suspend=bundled,
        note=("bundled mode: the model is in the image, not in a registry; register it, "
              f"create the Secret {app}-store and unsuspend to retrain") if bundled else None)
    return {"monitor-config.yaml": config_map, "monitor-cronjob.yaml": monitor,
            "retrain-cronjob.yaml": retrain}


def _selector(route: str) -> str:
    return f'model=~"{route}([@:].*)?|/app/models/{route}"'


def monitoring_panels(route: str, first_id: int, top: int) -> list[dict[str, Any]]:
    """Grafana timeseries panels over the gauges of `lathe monitor run`, from row `top`."""
    sel = _selector(route)
    specs = [
        ("Input drift: share of drifted columns", f"lathe_monitor_drift_share{{{sel}}}",
         "percentunit", "{{model}}"),
        ("Drift score per column (p-value or distance)",
         f"lathe_monitor_column_drift_score{{{sel}}}", "short", "{{column}} ({{test}})"),
        ("Prediction drift score", f"lathe_monitor_prediction_drift_score{{{sel}}}", "short",
         "{{model}}"),
        ("Missing values per column (current)", f"lathe_monitor_column_missing_share{{{sel}}}",
         "percentunit", "{{column}}"),
        ("Performance, realised (latest labelled window)",
         f'lathe_monitor_performance{{{sel},metric=~"accuracy|f1|roc_auc|rmse|mae"}}',
         "short", "{{metric}}"),
        ("Performance, estimated (CBPE, latest window)",
         f"lathe_monitor_estimated_performance{{{sel}}}", "short", "estimated {{metric}}"),
        ("Monitor rules breached", f"lathe_monitor_rule_breached{{{sel}}}", "short",
         "{{rule}}"),
        ("Seconds since the last monitor run",
         f"time() - lathe_monitor_last_run_timestamp_seconds{{{sel}}}", "s", "{{model}}"),
    ]
    panels = []
    for i, (title, expr, unit, legend) in enumerate(specs):
        panels.append({
            "id": first_id + i, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": top + 8 * (i // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": legend}],
        })
    return panels


def monitoring_alerts(route: str, app: str) -> list[dict[str, Any]]:
    """Prometheus alerts on the pushed gauges: dataset drift, a breached monitor rule, and a
    monitor that stopped reporting."""
    sel = _selector(route)
    return [
        {"alert": "LatheInputDrift", "expr": f"max by (model) (lathe_monitor_dataset_drift{{{sel}}}) == 1",
         "for": "1h", "labels": {"severity": "ticket"},
         "annotations": {"summary": "{{ $labels.model }}: the inputs drifted from the training "
                                    "data (lathe monitor run)"}},
        {"alert": "LatheMonitorRuleBreached",
         "expr": f"max by (model, rule) (lathe_monitor_rule_breached{{{sel}}}) == 1",
         "labels": {"severity": "ticket"},
         "annotations": {"summary": "{{ $labels.model }}: monitor rule {{ $labels.rule }} is "
                                    "breached"}},
        {"alert": "LatheMonitorSilent",
         "expr": f"time() - max by (model) (lathe_monitor_last_run_timestamp_seconds{{{sel}}})"
                 " > 7200",
         "labels": {"severity": "ticket"},
         "annotations": {"summary": f"{app}: lathe monitor run has not reported for 2 hours"}},
    ]
