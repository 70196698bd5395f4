"""`lathe experiment ...`: plan, analyse and (with a registry) run A/B experiments.

Only typer and the stdlib at top level; each command calls one `lathe.api` function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import JsonFlag, console, emit_json

app = typer.Typer(
    name="experiment",
    help="A/B experiments: plan the sample, analyse outcomes, start, stop and promote.",
    no_args_is_help=True,
)


@app.command()
def analyze(
    source: Annotated[str, typer.Argument(
        help="CSV/Parquet of outcomes (one row per unit), or a served experiment's NAME.")],
    variant: Annotated[str | None, typer.Option(
        "--variant", help="Column naming the variant.")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="Metric column (repeat for several; num/den for a ratio). The first "
        "decides.")] = None,
    control: Annotated[str | None, typer.Option("--control", help="The control's value.")] = None,
    test: Annotated[str | None, typer.Option(
        "--test", help="z | welch | mann-whitney (default: the metric's kind picks).")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", help="Planned split, control first, e.g. 50/50 (default: equal).")] = None,
    covariate: Annotated[str | None, typer.Option(
        "--covariate", help="Pre-period column for CUPED variance reduction.")] = None,
    metric_kind: Annotated[str | None, typer.Option(
        "--metric-kind", help="proportion | mean (default: 0/1 values are a proportion).")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")] = None,
    prediction_log: Annotated[str | None, typer.Option(
        "--prediction-log", help="NAME: the server's log URL (default "
        "sqlite:///.lathe/predictions.db).")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", help="NAME: registry URL (default LATHE_STORE).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Say what the data supports (ship, roll back, keep running), then the table."""
    from lathe import api

    result = api.experiment_analyze(
        source, variant=variant, metrics=metric, control=control, test=test, split=split,
        covariate=covariate, kind=metric_kind, report=report, alpha=alpha,
        prediction_log=prediction_log, store=store)
    if as_json:
        emit_json(_without_looks(result))
        return
    _print_analysis(result)


def _without_looks(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON keeps the last look of the sequential test; the report draws every look."""
    for block in result.get("metrics", {}).values():
        for comp in block.get("comparisons", {}).values():
            comp.get("sequential", {}).pop("looks", None)
    return result


def _print_analysis(result: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    out.print(result["decision"]["sentence"])
    srm = result["srm"]
    flag = "[red]MISMATCH[/red]" if srm["mismatch"] else "ok"
    out.print(f"sample ratio: p = {srm['p_value']:.3g} ({flag}); units "
              + ", ".join(f"{k} {v:,}" for k, v in srm.get("counts", {}).items()))
    for name, block in result["metrics"].items():
        table = Table(title=f"{name} ({block['kind']})")
        for col in ("variant", "n", "mean", "difference", "95% CI", "lift", "p", "p (Holm)",
                    "p (sequential)"):
            table.add_column(col, justify="left" if col == "variant" else "right")
        for v, s in block["variants"].items():
            c = block["comparisons"].get(v)
            if c is None:
                table.add_row(v, f"{s['n']:,}", f"{s['mean']:.4g}", "control", "", "", "", "", "")
                continue
            table.add_row(v, f"{s['n']:,}", f"{s['mean']:.4g}", f"{c['difference']:+.4g}",
                          f"[{c['ci'][0]:+.4g}, {c['ci'][1]:+.4g}]", f"{c['lift'] * 100:+.2f}%",
                          f"{c['p_value']:.3g}", f"{c['p_adjusted']:.3g}",
                          f"{c['sequential']['p_value']:.3g}")
        out.print(table)
    if result.get("report"):
        out.print(f"report: {result['report']}")


@app.command()
def plan(
    metric_kind: Annotated[str | None, typer.Option(
        "--metric-kind", help="proportion | mean (required)")] = None,
    mde: Annotated[float | None, typer.Option(
        "--mde", help="Smallest absolute lift worth detecting (required).")] = None,
    baseline: Annotated[float | None, typer.Option(
        "--baseline", help="The control's current rate (proportion) or mean.")] = None,
    sd: Annotated[float | None, typer.Option("--sd", help="Standard deviation (mean).")] = None,
    power: Annotated[float, typer.Option("--power", help="Chance to detect the MDE.")] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    n_per_arm: Annotated[int | None, typer.Option(
        "--n-per-arm", help="Instead of --mde: the smallest lift this many units detect.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Units per arm needed to detect --mde with --power (or the MDE of --n-per-arm)."""
    from lathe import api

    result = api.experiment_plan(metric_kind, baseline=baseline, mde=mde, sd=sd, power=power,
                                 alpha=alpha, n_per_arm=n_per_arm)
    if as_json:
        emit_json(result)
        return
    if n_per_arm is not None:
        console().print(f"{n_per_arm:,} units per arm detect an absolute lift of "
                        f"{result['mde']:.4g} at {power:.0%} power, alpha {alpha:g}.")
        return
    console().print(f"{result['per_arm']:,} units per arm ({result['total']:,} in all) to detect "
                    f"{mde:+g} at {power:.0%} power, alpha {alpha:g} ({result['method']}).")


StoreOption = Annotated[str | None, typer.Option(
    "--store", help="Registry URL (default LATHE_STORE, else sqlite:///.lathe/lathe.db).")]


@app.command()
def start(
    name: Annotated[str, typer.Argument(help="The experiment's name (never reused).")],
    control: Annotated[str, typer.Option("--control", help="NAME@alias or NAME:VERSION.")],
    treatment: Annotated[str, typer.Option("--treatment", help="NAME:VERSION to test.")],
    unit: Annotated[str, typer.Option("--unit", help="Field identifying a unit (user_id).")],
    split: Annotated[str, typer.Option("--split", help="control/treatment %.")] = "50/50",
    metric: Annotated[str | None, typer.Option("--metric", help="Primary metric.")] = None,
    guardrail: Annotated[list[str] | None, typer.Option(
        "--guardrail", help="e.g. p99_ms<50 or error_rate<0.01 (repeatable).")] = None,
    shadow: Annotated[bool, typer.Option(
        "--shadow", help="Treatment scores in the shadow.")] = False,
    canary: Annotated[str | None, typer.Option(
        "--canary", help="Treatment % ramp, e.g. 1,5,25,50.")] = None,
    step_minutes: Annotated[float | None, typer.Option(
        "--step-minutes", help="Minutes between canary steps.")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Start routing traffic between two versions (serve with --experiments)."""
    from lathe import api

    result = api.experiment_start(name, control=control, treatment=treatment, split=split,
                                  unit=unit, metric=metric, guardrails=guardrail, shadow=shadow,
                                  canary=canary, step_minutes=step_minutes, store=store)
    if as_json:
        emit_json(result)
        return
    console().print(f"started {name}: {result['control']} vs {result['treatment']} "
                    f"({result['mode']}, split {result['split'][0]:g}/{result['split'][1]:g}, "
                    f"unit {result['unit']})")


@app.command("list")
def list_(store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """Every experiment: running and stopped."""
    from lathe import api

    found = api.experiment_list(store)
    if as_json:
        emit_json({"experiments": found})
        return
    from rich.table import Table

    table = Table(title="experiments")
    for col in ("name", "status", "mode", "control", "treatment", "split", "unit", "started"):
        table.add_column(col)
    for e in found:
        table.add_row(e["name"], e["status"], e["mode"], e["control"], e["treatment"],
                      "/".join(f"{s:g}" for s in e["split"]), e["unit"], e["started_at"][:19])
    console().print(table)


@app.command()
def stop(
    name: Annotated[str, typer.Argument(help="The experiment to stop.")],
    promote: Annotated[bool, typer.Option(
        "--promote", help="Make the treatment champion (through the gate).")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Keep the control.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    prediction_log: Annotated[str | None, typer.Option(
        "--prediction-log", help="Log URL: its analysis goes into the audit too.")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop an experiment: --promote or --rollback; the outcome goes to the audit."""
    from lathe import api
    from lathe.errors import UsageError

    if promote == rollback:
        raise UsageError("say how the experiment ends: --promote or --rollback (one of them)",
                         hint=f"lathe experiment stop {name} --promote")
    result = api.experiment_stop(name, promote=promote, reason=reason, store=store,
                                 prediction_log=prediction_log)
    if as_json:
        emit_json(result)
        return
    console().print(f"{name}: {result['status']} ({result['treatment']} vs {result['control']})")
