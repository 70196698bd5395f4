"""`lathe monitor drift|performance|run` and `lathe retrain`: parse options, call one
`lathe.api` function, print (JSON on stdout with --json, text on stderr otherwise).

Exit codes: 0 fine (drift found is a finding, not a failure); `monitor run` exits 1 when an
alert rule is breached; errors exit with their usual code (65 data, 66 not found, 78 config).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, emit_json

__all__ = ["app"]

app = typer.Typer(name="monitor", help="Watch a model in production: input drift, performance "
                  "over windows (with delayed labels), alert rules.", no_args_is_help=True)

StoreOption = Annotated[str | None, typer.Option(
    "--store", envvar="LATHE_STORE", help="Registry URL (default sqlite:///.lathe/lathe.db).")]


SinceOption = Annotated[str | None, typer.Option(
    "--since", help="log:URL only: first prediction time (ISO date or datetime, UTC).")]
UntilOption = Annotated[str | None, typer.Option(
    "--until", help="log:URL only: prediction time to stop before.")]
RecentOption = Annotated[str | None, typer.Option(
    "--window", help="log:URL only: the most recent span, e.g. 1d, 12h, 30m (ending at "
    "--until or now).")]


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


@app.command("drift")
def drift(
    reference: Annotated[str, typer.Argument(help="Reference data file, or a model (artifact "
                                             "path, NAME, NAME@alias): its training profile.")],
    current: Annotated[str, typer.Argument(help="Current data file (CSV, TSV, JSONL, Parquet) "
                                           "or log:URL (the prediction log's inputs).")],
    model: Annotated[str | None, typer.Option(
        "--model", help="A model: its label column is left out and its prediction drift "
        "is reported.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML: drift_share, and per column/kind {test, threshold, skip}.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="The label column, left out of the comparison.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write a self-contained HTML report here.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    window: RecentOption = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Has the input changed? One drift test per column (Evidently's defaults), the share of
    drifted columns, and a dataset verdict."""
    from lathe.api import monitor_drift

    result = monitor_drift(reference, current, model=model, config=config, target=target,
                           report=report, store=store, since=since, until=until,
                           window=window)
    if as_json:
        emit_json(result)
        return
    verdict = "DRIFT" if result["dataset_drift"] else "no drift"
    _say(f"{verdict}: {result['n_drifted']} of {result['n_columns']} columns drifted "
         f"(share {result['share_drifted']:.2f}, threshold {result['drift_share']:.2f})")
    for name, col in result["columns"].items():
        mark = "drift" if col["drifted"] else "  -  "
        _say(f"  {mark}  {name:<24} {col['test']:<14} {col['statistic']:.4g} "
             f"(threshold {col['threshold']:.4g})")
    if report is not None:
        _say(f"report: {report}")


@app.command("performance")
def performance(
    model: Annotated[str, typer.Argument(help="Artifact path, NAME, NAME@alias or NAME:VERSION.")],
    data: Annotated[str, typer.Argument(help="Rows in time order (a file, or log:URL: the "
                                        "prediction log with its outcomes); the label may be "
                                        "absent or blank where outcomes have not arrived.")],
    window: Annotated[str, typer.Option("--window", help="Rows per window (consecutive, in "
                                        "file order; the last may be shorter), or on log:URL "
                                        "a span of time such as 1d or 6h.")] = "1000",
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="Labelled rows to calibrate the estimates on (default: the "
        "model's test-split reliability table).")] = None,
    detector: Annotated[str, typer.Option(
        "--detector", help="adwin or page_hinkley, over the error stream.")] = "adwin",
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write a self-contained HTML report here.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Has the model got worse? Every metric per window with intervals, CBPE estimates where
    labels have not arrived, and where decay began."""
    from lathe.api import monitor_performance

    result = monitor_performance(model, data, window=window, reference=reference,
                                 detector=detector, report=report, store=store, since=since,
                                 until=until)
    if as_json:
        emit_json(result)
        return
    metric = "accuracy" if result["task"] != "regression" else "rmse"
    _say(f"{len(result['windows'])} windows, {result['labelled_rows']} of {result['rows']} rows "
         f"labelled; calibration: {result['calibration']}")
    for w in result["windows"]:
        real, est = w.get(metric), w.get(f"estimated_{metric}")
        _say(f"  rows {w['start']:>7}-{w['end']:<7} {metric} "
             f"{'-' if real is None else format(real, '.4f'):>7}  estimated "
             f"{'-' if est is None else format(est, '.4f'):>7}")
    for change in result["change_points"]:
        _say(f"decay began near row {change['row']} (error {change['error_before']} -> "
             f"{change['error_after']:.3f}, {change['detector']})")


@app.command("run")
def run(
    config: Annotated[Path, typer.Option("--config", help="monitor.yaml: data, model, drift "
                                         "options, alert rules, outputs.")],
    as_json: JsonFlag = False,
) -> None:
    """One scheduled check: drift, performance, every alert rule; events, Prometheus gauges
    and a webhook. Exits 3 when a rule is breached, 0 when all hold."""
    from lathe.api import monitor_run

    result = monitor_run(config)
    if as_json:
        emit_json(result)
    else:
        for rule in result["rules"]:
            _say(f"  {'BREACHED' if rule['breached'] else 'ok':<9} {rule['name']}")
        for name, target in result["outputs"].items():
            _say(f"{name}: {target}")
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])
