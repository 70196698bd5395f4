"""The verbs that operate a model in production: experiments, monitoring and retraining, the
business decision (re-exported by `lathe.api`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.errors import UsageError

if TYPE_CHECKING:
    from lathe.model import DataLike, Model


# ---- experiments -------------------------------------------------------------------------


def experiment_analyze(
    source: str | os.PathLike[str],
    *,
    variant: str | None = None,
    metrics: list[str] | None = None,
    control: str | None = None,
    test: str | None = None,
    split: str | None = None,
    covariate: str | None = None,
    kind: str | None = None,
    report: str | os.PathLike[str] | None = None,
    alpha: float = 0.05,
    prediction_log: str | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    """Analyse an A/B test: SRM, tests, intervals, decision. `source` is a CSV/Parquet of
    outcomes, or the name of a served experiment (read from the prediction log + feedback)."""
    from lathe.experiments.service import analyze_file

    if not Path(source).exists() and variant is None and "/" not in str(source) \
            and Path(source).suffix.lower() not in (".csv", ".parquet", ".pq", ".tsv"):
        from lathe.experiments.served import analyze_experiment

        return analyze_experiment(
            str(source), prediction_log=prediction_log, metric=metrics[0] if metrics else None,
            store=store, report=report, alpha=alpha,
        )
    if variant is None or control is None:
        raise UsageError(
            "analysing a file needs --variant COL and --control VALUE",
            hint="e.g. --variant group --metric converted --control control",
        )
    return analyze_file(
        source, variant=variant, metrics=list(metrics or []), control=control, test=test,
        split=split, covariate=covariate, kind=kind, report=report, alpha=alpha,
    )


def experiment_plan(
    metric_kind: str | None,
    *,
    baseline: float | None,
    mde: float | None,
    sd: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    n_per_arm: int | None = None,
) -> dict[str, Any]:
    """Units per arm to detect an absolute lift of `mde` (statsmodels' NormalIndPower), or
    the minimum detectable effect with `n_per_arm` units per arm."""
    from lathe.experiments.service import plan

    return plan(metric_kind, baseline=baseline, mde=mde, sd=sd, power=power, alpha=alpha,
                n_per_arm=n_per_arm)


def experiment_start(name: str, *, control: str, treatment: str, split: str = "50/50",
                     unit: str, metric: str | None = None, guardrails: list[str] | None = None,
                     shadow: bool = False, canary: str | None = None,
                     step_minutes: float | None = None, store: str | None = None
                     ) -> dict[str, Any]:
    """Record a running experiment in the registry's store (LATHE_STORE)."""
    from lathe.experiments import records

    return records.start(name, control=control, treatment=treatment, split=split, unit=unit,
                         metric=metric, guardrails=guardrails, shadow=shadow, canary=canary,
                         step_minutes=step_minutes, store=store).to_dict()


def experiment_list(store: str | None = None) -> list[dict[str, Any]]:
    """Every experiment in the store, oldest first."""
    from lathe.experiments import records

    return [e.to_dict() for e in records.list_experiments(store)]


def experiment_stop(name: str, *, promote: bool, reason: str | None = None,
                    store: str | None = None, prediction_log: str | None = None
                    ) -> dict[str, Any]:
    """Promote the treatment through the registry gate, or roll back; audited either way.
    With `prediction_log`, the experiment's analysis (its decision) goes into the audit too."""
    from lathe.errors import DataError
    from lathe.experiments import records

    analysis = None
    if prediction_log is not None:
        from lathe.experiments.served import analyze_experiment

        try:
            analysis = analyze_experiment(name, prediction_log=prediction_log, store=store)
        except DataError:
            analysis = None  # no outcomes (yet): the experiment still stops
    return records.stop(name, promote=promote, reason=reason, store=store,
                        analysis=analysis).to_dict()


# ---- monitoring (issue 21) -----------------------------------------------------------------
def monitor_drift(
    reference: str,
    current: str,
    *,
    model: str | None = None,
    config: str | os.PathLike[str] | None = None,
    target: str | None = None,
    report: str | os.PathLike[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
    window: str | None = None,
) -> dict[str, Any]:
    """Input drift of CURRENT against REFERENCE (a data file, `log:URL` or a model's training
    profile); a `log:URL` side reads `--since/--until` or the last `--window` (e.g. 1d). See
    lathe.monitoring.drift_check."""
    from lathe.monitoring.config import drift_options_from_file
    from lathe.monitoring.drift_check import drift_check
    from lathe.monitoring.windows import parse_window, recent_span

    options = drift_options_from_file(config)
    if window is not None:
        since, until = recent_span(parse_window(window), since, until)  # type: ignore[assignment]
    return drift_check(str(reference), str(current), model=model, options=options,
                       target=target, report=report, store=store, since=since, until=until)


def monitor_performance(
    model: str,
    data: DataLike,
    *,
    window: int | str,
    reference: DataLike | None = None,
    detector: str = "adwin",
    report: str | os.PathLike[str] | None = None,
    store: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Metrics per window (N consecutive rows, or on `log:URL` a duration such as 1d):
    realised where labels arrived, CBPE estimates everywhere, change points in the error
    stream. See lathe.monitoring.performance."""
    from lathe.model import read_data, source_name
    from lathe.monitoring.logsource import is_log_ref, log_scope, read_log_times
    from lathe.monitoring.performance import performance_windows
    from lathe.monitoring.windows import as_utc, parse_window
    from lathe.registry.refs import load_model

    size = parse_window(window)
    loaded = load_model(model, store=store)
    times = None
    if is_log_ref(data):
        scope = log_scope(str(model), store)
        frame, times = read_log_times(data, model=scope["model"], version=scope["version"],
                                      since=as_utc(since), until=as_utc(until),
                                      target=loaded.schema.target)
    else:
        frame = read_data(data)
    result = performance_windows(loaded, frame, size, source=source_name(data),
                                 reference=None if reference is None else read_data(reference),
                                 detector=detector, times=times, since=since)
    result["model"] = str(model)
    if report is not None:
        from lathe.monitoring.report import write_performance_report

        write_performance_report(Path(report), result)
        result["report"] = str(report)
    return result


def monitor_run(config: str | os.PathLike[str]) -> dict[str, Any]:
    """One scheduled monitoring run from monitor.yaml (checks, rules, events, gauges,
    webhook, Pushgateway); `exit_code` is 3 when a rule is breached. See
    lathe.monitoring.runner."""
    from lathe.monitoring.runner import run_monitor

    return run_monitor(config)


def retrain(name: str, data: str | os.PathLike[str], *, alias: str | None = None,
            out: str | os.PathLike[str] | None = None, store: str | None = None,
            note: str | None = None, window: str | None = None, since: str | None = None,
            until: str | None = None, base: str | None = None) -> dict[str, Any]:
    """A challenger with the champion's config, compared on the most recent labelled rows,
    registered with its parent, promoted only through the gate (or to `alias`). DATA is a
    file (its last 20 % compare) or `log:URL` (the champion's training data plus the log's
    labelled rows of the window; `base` another copy of that data, or "none"). See
    lathe.monitoring.retrain."""
    from lathe.monitoring.retrain import retrain as run_retrain

    return run_retrain(name, data, alias=alias, out=out, store=store, note=note,
                       window=window, since=since, until=until, base=base)


# ---- business ------------------------------------------------------------------------------
def decide(
    models: list[str],
    data: DataLike,
    *,
    traffic: str | None = None,
    price: str | None = None,
    value: Any = None,
    region: str | None = None,
    report: str | os.PathLike[str] | None = None,
    target_p95_ms: float = 100.0,
    tolerance: float = 0.01,
    rounds: int = 5,
    encoding: str | None = None,
) -> dict[str, Any]:
    """Measure, price and rank candidate models on the same labelled rows; which to run and
    why (see `lathe.business.decide`). Timing goes through the server's `Predictor`."""
    from lathe.business.decide import decide_candidates
    from lathe.model import read_data, source_name
    from lathe.registry.refs import load_model
    from lathe.serving.predictor import Predictor

    def server_path(model: Model) -> Callable[[list[dict[str, Any]]], Any]:
        predictor = Predictor("decide", "0", model)
        return lambda rows: predictor.predict_raw(predictor.prepare(rows))

    if report is not None and Path(report).is_dir():
        raise UsageError(f"--report {report} is a directory", hint="pass a file name")
    result = decide_candidates(
        [str(m) for m in models], read_data(data, encoding), load=load_model,
        make_scorer=server_path, source=source_name(data), traffic=traffic, price=price,
        value=value, region=region, target_p95_ms=target_p95_ms, tolerance=tolerance,
        rounds=rounds)
    if report is not None:
        from lathe.business.report import write_decision_report

        write_decision_report(report, result)
    return result
