"""`lathe monitor run --config monitor.yaml`: one scheduled check — drift and performance of
the current data, every alert rule, events, gauges and a webhook.

monitor.yaml (paths are relative to the file)::

    model: churn@champion        # performance, the label column, the drift reference
    current: recent.parquet      # the rows to check (label column optional), or log:URL
    reference: train.parquet     # drift reference (default: the model's training profile)
    window: 1000                 # rows per performance window (on log:URL also e.g. 6h)
    recent: 1d                   # log:URL only: read the last day (or since:/until:)
    calibration: valid.csv       # labelled rows to calibrate CBPE on (optional)
    store: sqlite:///.lathe/lathe.db
    drift: {drift_share: 0.5, columns: {id: {skip: true}}}
    rules:
      - {metric: share_drifted, above: 0.3}
      - {metric: drift_score, column: vicprice, above: 0.2}
      - {metric: accuracy, below: 0.8, for: 2}
      - {metric: estimated_accuracy, below: 0.75}
    outputs:
      events: events.jsonl              # one JSON event per breach, appended
      prometheus: lathe_monitor.prom    # textfile collector, replaced atomically
      prometheus_rules: monitor_alerts.yaml
      pushgateway: http://pushgateway:9091   # the same gauges, pushed (job lathe_monitor)
      webhook: http://127.0.0.1:9000/hook

`${VAR}` in a top-level or `outputs` value is the environment variable VAR (e.g. `current:
log:${LATHE_PREDICTION_LOG}`, so a URL with a password can come from a Kubernetes Secret);
an unset one is a config error.

Exit code: 0 when every rule holds, 3 (`ALERT_EXIT_CODE`) when any is breached; 78 for a
bad config (an unknown metric, a missing key), 65/66 for bad or missing data.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lathe.errors import ConfigError, UsageError
from lathe.monitoring.alerts import ALERT_EXIT_CODE, breach, parse_rules
from lathe.monitoring.config import read_yaml
from lathe.monitoring.detect import parse_drift_options

__all__ = ["run_monitor", "post_webhook"]

KEYS = {"version", "model", "current", "reference", "window", "calibration", "store", "drift",
        "rules", "outputs", "recent", "since", "until"}
OUTPUTS = {"events", "prometheus", "prometheus_rules", "pushgateway", "webhook"}


def _path(base: Path, value: Any) -> str:
    text = str(value)
    if "://" in text or text.startswith("log:") or Path(text).is_absolute():
        return text
    candidate = base / text
    return str(candidate) if candidate.exists() or "/" in text or "." in Path(text).name \
        else text  # a registry reference (NAME, NAME@alias) stays as written


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """POST the payload as JSON; the outcome (never an exception) for the run's report."""
    import urllib.error
    import urllib.request

    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return {"url": url, "ok": 200 <= answer.status < 300, "status": answer.status}
    except (urllib.error.URLError, OSError) as err:
        return {"url": url, "ok": False, "error": str(getattr(err, "reason", err))}


def _expand(raw: dict[str, Any], file: Path) -> dict[str, Any]:
    """`${VAR}` in string values (top level and outputs) replaced from the environment."""
    import re

    def one(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value

        def env(match: re.Match[str]) -> str:
            if match.group(1) not in os.environ:
                raise ConfigError(f"{file}: {key} uses ${{{match.group(1)}}}, which is not set",
                                  hint=f"export {match.group(1)}=... before the run", field=key)
            return os.environ[match.group(1)]

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", env, value)

    out = {k: one(k, v) for k, v in raw.items()}
    if isinstance(out.get("outputs"), dict):
        out["outputs"] = {k: one(f"outputs.{k}", v) for k, v in out["outputs"].items()}
    return out


def _window(raw: dict[str, Any], key: str, file: Path) -> Any:
    from lathe.monitoring.windows import parse_window

    try:
        return parse_window(raw[key], option=key) if raw.get(key) is not None else None
    except UsageError as bad:
        raise ConfigError(f"{file}: {bad.message}", hint=bad.hint, field=key) from None


def _rows(current: str, model: Any, ref: str, store: str | None, span: tuple[Any, Any]
          ) -> tuple[Any, Any]:
    """The rows to score for `model` (and their times on the prediction log)."""
    from lathe.data.load import read_table
    from lathe.monitoring.logsource import is_log_ref, log_scope, read_log_times

    if not is_log_ref(current):
        return read_table(current), None
    scope = log_scope(ref, store)
    return read_log_times(current, model=scope["model"], version=scope["version"],
                          since=span[0], until=span[1], target=model.schema.target)


def run_monitor(config: str | os.PathLike[str], *, now: datetime | None = None) -> dict[str, Any]:
    """Run every check of monitor.yaml; the result says which rules were breached."""
    import yaml

    from lathe.atomic import write_text_atomic
    from lathe.data.load import read_table
    from lathe.monitoring.drift_check import drift_check
    from lathe.monitoring.performance import performance_windows
    from lathe.monitoring.prometheus import alert_rules, gauges_text, push_gauges
    from lathe.monitoring.windows import recent_span
    from lathe.registry.refs import load_model

    file = Path(config)
    raw = _expand(read_yaml(file), file)
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ConfigError(f"{file}: unknown key {unknown[0]!r}",
                          hint="use " + ", ".join(sorted(KEYS)), field=unknown[0])
    rules = parse_rules(raw.get("rules"), str(file))
    options = parse_drift_options(raw.get("drift"), f"{file}: drift")
    outputs = raw.get("outputs") or {}
    if not isinstance(outputs, dict) or set(outputs) - OUTPUTS:
        raise ConfigError(f"{file}: outputs takes " + ", ".join(sorted(OUTPUTS)), field="outputs")
    if "current" not in raw:
        raise ConfigError(f"{file}: no `current` data to check", hint="add current: FILE",
                          field="current")
    base = file.parent
    current, store = _path(base, raw["current"]), raw.get("store")
    default_model = None if raw.get("model") is None else _path(base, raw["model"])
    window = _window(raw, "window", file) or 1000
    try:
        span = recent_span(_window(raw, "recent", file), raw.get("since"), raw.get("until"),
                           now=now)
    except UsageError as bad:
        raise ConfigError(f"{file}: {bad.message}", hint=bad.hint, field="since") from None
    models = {r.model or default_model for r in rules} | {default_model}
    drift: dict[str | None, dict[str, Any]] = {}
    performance: dict[tuple[str | None, int], dict[str, Any]] = {}
    for model in models:
        reference = raw.get("reference")
        ref = _path(base, reference) if reference is not None else model
        if ref is None:
            continue
        wants_prediction = any(r.metric == "prediction_drift_score" and
                               (r.model or default_model) == model for r in rules)
        drift[model] = drift_check(ref, current, model=model if wants_prediction else None,
                                   options=options, store=store, since=span[0], until=span[1])
    for rule in rules:
        model = rule.model or default_model
        if rule.kind != "performance":
            continue
        if model is None:
            raise ConfigError(f"{file}: rule {rule.name!r} needs a model",
                              hint="add model: NAME@alias at the top or in the rule")
        key = (model, rule.window or window)
        if key not in performance:
            loaded = load_model(model, store=store)
            frame, times = _rows(current, loaded, model, store, span)
            calibration = raw.get("calibration")
            performance[key] = performance_windows(
                loaded, frame, key[1], source=current, times=times, since=span[0],
                reference=None if calibration is None else read_table(_path(base, calibration)))
    stamp = (now or datetime.now(UTC)).isoformat()
    events = []
    for rule in rules:
        model = rule.model or default_model
        hit = breach(rule, drift.get(model),
                     performance.get((model, rule.window or window)) if model else None)
        if hit is not None:
            events.append({"time": stamp, "model": model, "config": str(file), **hit})
    breached = {r.name: any(e["rule"] == r.name for e in events) for r in rules}
    written: dict[str, Any] = {}
    if outputs.get("events") and events:
        target = Path(_path(base, outputs["events"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(e, default=str) + "\n" for e in events)
        written["events"] = str(target)
    label = str(default_model or current)
    main_perf = performance.get((default_model, window)) or next(iter(performance.values()), None)
    text = gauges_text(drift.get(default_model) or next(iter(drift.values()), None),
                       main_perf, model=label, breached=breached)
    if outputs.get("prometheus"):
        written["prometheus"] = str(write_text_atomic(_path(base, outputs["prometheus"]), text,
                                                      what="the Prometheus textfile"))
    if outputs.get("pushgateway"):
        written["pushgateway"] = push_gauges(str(outputs["pushgateway"]), text, model=label)
        if not written["pushgateway"]["ok"]:
            print(f"warning: Pushgateway {outputs['pushgateway']} failed: "
                  f"{written['pushgateway'].get('error')}", file=sys.stderr)
    if outputs.get("prometheus_rules"):
        text = yaml.safe_dump(alert_rules(rules, model=label), sort_keys=False)
        written["prometheus_rules"] = str(write_text_atomic(
            _path(base, outputs["prometheus_rules"]), text, what="the Prometheus rules"))
    if outputs.get("webhook") and events:
        written["webhook"] = post_webhook(str(outputs["webhook"]),
                                          {"source": "lathe monitor run", "events": events})
        if not written["webhook"]["ok"]:
            print(f"warning: webhook {outputs['webhook']} failed: "
                  f"{written['webhook'].get('error', written['webhook'].get('status'))}",
                  file=sys.stderr)
    summary_drift = {str(k): {key: v[key] for key in ("dataset_drift", "share_drifted",
                                                      "n_drifted", "n_columns")}
                     for k, v in drift.items()}
    summary_perf = {f"{m}@{w}": p["windows"][-1] for (m, w), p in performance.items()
                    if p["windows"]}
    return {"config": str(file), "time": stamp, "breached": bool(events),
            "exit_code": ALERT_EXIT_CODE if events else 0, "events": events,
            "rules": [{"name": r.name, "breached": breached[r.name]} for r in rules],
            "drift": summary_drift, "performance": summary_perf, "outputs": written}


