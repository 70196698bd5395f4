"""Alert rules for `lathe monitor run`: parsed from monitor.yaml, evaluated on the drift and
performance results, turned into events.

A rule names a metric, optionally a column (drift metrics) or a model, a threshold as
`above:` or `below:`, and `for:` — how many of the most recent windows must all breach
(performance metrics; 1 by default). Drift metrics: dataset_drift (0/1), share_drifted,
drift_score / drifted / missing_share / new_category_share (need `column`),
prediction_drift_score. Performance metrics: every scalar `lathe evaluate` gives (accuracy,
f1, roc_auc, log_loss, precision, recall, rmse, mae, r2, ...) and estimated_accuracy,
estimated_f1, estimated_roc_auc (CBPE).

>>> rule = parse_rules([{"metric": "share_drifted", "above": 0.3}], "monitor.yaml")[0]
>>> breach(rule, {"share_drifted": 0.5}, None)["value"]
0.5
>>> parse_rules([{"metric": "acuracy", "below": 0.8}], "monitor.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
lathe.errors.ConfigError: monitor.yaml rules[0]: unknown metric 'acuracy'; did you mean 'accuracy' or 'estimated_accuracy'? Fix: use one of: ...
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lathe.errors import ConfigError, did_you_mean

__all__ = ["Rule", "parse_rules", "breach", "DRIFT_METRICS", "COLUMN_METRICS",
           "PERFORMANCE_METRICS", "ALERT_EXIT_CODE"]

ALERT_EXIT_CODE = 3
"""`lathe monitor run` exits with this code when at least one rule is breached."""

DRIFT_METRICS = ("dataset_drift", "share_drifted", "prediction_drift_score")
COLUMN_METRICS = ("drift_score", "drifted", "missing_share", "new_category_share")
PERFORMANCE_METRICS = (
    "accuracy", "f1", "f1_macro", "f1_weighted", "precision", "precision_macro",
    "precision_weighted", "recall", "recall_macro", "recall_weighted", "roc_auc",
    "average_precision", "log_loss", "brier", "rmse", "mae", "r2", "median_absolute_error",
    "estimated_accuracy", "estimated_f1", "estimated_roc_auc",
)
KNOWN = DRIFT_METRICS + COLUMN_METRICS + PERFORMANCE_METRICS


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    above: float | None = None
    below: float | None = None
    column: str | None = None
    model: str | None = None
    window: Any = None  # rows (int) or a duration (timedelta)
    for_windows: int = 1

    @property
    def kind(self) -> str:
        return "performance" if self.metric in PERFORMANCE_METRICS else "drift"

    def describe(self) -> str:
        side = f"above {self.above}" if self.above is not None else f"below {self.below}"
        where = f" of {self.column}" if self.column else ""
        span = f" for {self.for_windows} windows" if self.for_windows > 1 else ""
        return f"{self.metric}{where} {side}{span}"


def _number(raw: dict[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key} must be a number, got {value!r}", field=key)
    return float(value)


def parse_rules(raw: Any, source: str) -> list[Rule]:
    """Rules from the YAML list under `rules:`; one ConfigError (exit 78) per bad rule."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: `rules` must be a list of mappings", field="rules")
    rules = []
    allowed = {"name", "metric", "above", "below", "column", "model", "window", "for"}
    for i, item in enumerate(raw):
        where = f"{source} rules[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a mapping", field="rules")
        extra = sorted(set(item) - allowed)
        if extra:
            raise ConfigError(f"{where}: unknown key {extra[0]!r}",
                              hint="use " + ", ".join(sorted(allowed)), field="rules")
        metric = str(item.get("metric", ""))
        if metric not in KNOWN:
            raise ConfigError(f"{where}: unknown metric {metric!r}; {did_you_mean(metric, KNOWN)}",
                              hint="use one of: " + ", ".join(KNOWN), field="metric")
        above, below = _number(item, "above", where), _number(item, "below", where)
        if (above is None) == (below is None):
            raise ConfigError(f"{where}: give exactly one of `above` or `below`", field="rules")
        column = item.get("column")
        if metric in COLUMN_METRICS and not column:
            raise ConfigError(f"{where}: metric {metric!r} needs a `column`", field="column")
        span = item.get("for", 1)
        if not isinstance(span, int) or isinstance(span, bool) or span < 1:
            raise ConfigError(f"{where}.for must be a whole number of windows >= 1", field="for")
        if span > 1 and metric not in PERFORMANCE_METRICS:
            raise ConfigError(f"{where}: `for` counts performance windows; {metric!r} is "
                              "measured once per run", field="for")
        window = item.get("window")
        if window is not None:
            from lathe.errors import UsageError
            from lathe.monitoring.windows import parse_window

            try:
                window = parse_window(window, option=f"{where}.window")
            except UsageError as bad:
                raise ConfigError(bad.message, hint=bad.hint, field="window") from None
        rule = Rule(str(item.get("name") or ""), metric, above, below,
                    None if column is None else str(column),
                    None if item.get("model") is None else str(item["model"]), window, span)
        rules.append(rule if rule.name else replace(rule, name=rule.describe()))
    return rules


def _crossed(rule: Rule, value: float) -> bool:
    return value > rule.above if rule.above is not None else value < rule.below  # type: ignore[operator]


def breach(rule: Rule, drift: dict[str, Any] | None, performance: dict[str, Any] | None
           ) -> dict[str, Any] | None:
    """The event for a breached rule (None when it holds or has nothing to read)."""
    value: float | None = None
    if rule.kind == "drift":
        if drift is None:
            return None
        if rule.metric in ("dataset_drift", "share_drifted"):
            value = float(drift[rule.metric])
        elif rule.metric == "prediction_drift_score":
            pred = (drift.get("prediction") or {}).get("prediction")
            value = None if pred is None else float(pred["statistic"])
        else:
            col = drift["columns"].get(rule.column or "")
            if col is None:
                raise ConfigError(f"rule {rule.name!r}: no column {rule.column!r} in the drift "
                                  "result", hint="name a column of the data", field="column")
            value = float({"drift_score": col["statistic"], "drifted": col["drifted"],
                           "missing_share": col.get("missing_share", {}).get("current", 0.0),
                           "new_category_share": col.get("new_categories", {}).get("share", 0.0),
                           }[rule.metric])
        if value is None or not _crossed(rule, value):
            return None
        return {"rule": rule.name, "metric": rule.metric, "column": rule.column, "value": value,
                "above": rule.above, "below": rule.below}
    windows = [w for w in (performance or {}).get("windows", []) if w.get(rule.metric) is not None]
    recent = windows[-rule.for_windows:]
    if len(recent) < rule.for_windows or not all(_crossed(rule, w[rule.metric]) for w in recent):
        return None
    return {"rule": rule.name, "metric": rule.metric, "value": recent[-1][rule.metric],
            "windows": [[w["start"], w["end"]] for w in recent],
            "above": rule.above, "below": rule.below}
