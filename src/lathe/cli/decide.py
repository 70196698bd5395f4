"""`lathe decide MODEL... --data FILE`: which candidate to run, priced and measured."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json

__all__ = ["decide"]


def decide(
    models: Annotated[list[str], typer.Argument(
        help="Candidates: artifact directories, NAME, NAME@alias or NAME:VERSION. The first "
             "is the current champion for ROI and break-even.")],
    data: Annotated[Path, typer.Option("--data", help="Labelled rows every candidate is "
                                                      "measured on.")],
    traffic: Annotated[str | None, typer.Option(
        help="Predictions per time, e.g. 2e6/day, 300/s, 5e7/month: monthly cost, replicas.")
    ] = None,
    price: Annotated[str | None, typer.Option(
        help="cpu_hour=USD[,gpu_hour=USD], an instance name from lathe's price table, or a "
             "YAML file (default: the table's default instance).")] = None,
    value: Annotated[str | None, typer.Option(
        help="What an outcome is worth: correct=0.40,wrong=-2.0, tp=..,fp=..,tn=..,fn=.. or a "
             "YAML file (per class or a full matrix).")] = None,
    region: Annotated[str | None, typer.Option(
        help="Where the electricity comes from, for CO2: ISO country code (FR, DEU, USA) or "
             "USA:california (default: CodeCarbon's world average).")] = None,
    target_p95_ms: Annotated[float, typer.Option(
        "--target-p95-ms", help="Latency target for the replica count.")] = 100.0,
    tolerance: Annotated[float, typer.Option(
        help="Without --value: share of the best quality one may give up for a cheaper "
             "model.")] = 0.01,
    rounds: Annotated[int, typer.Option(help="Timing rounds per candidate (medians).")] = 5,
    report: Annotated[Path | None, typer.Option(
        help="Write a self-contained HTML report (table, Pareto fronts) here.")] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Measure, price and rank candidate models on the same rows; say which to run and why."""
    from lathe import api

    result = api.decide(models, data, traffic=traffic, price=price, value=value,
                        region=region, report=report, target_p95_ms=target_p95_ms,
                        tolerance=tolerance, rounds=rounds, encoding=encoding)
    if as_json:
        emit_json(result)
        return
    _print(result, report)


def _print(result: dict[str, Any], report: Path | None) -> None:
    from rich.table import Table

    from lathe.cli._output import fmt

    metric = result["primary_metric"]
    table = Table(title=f"lathe decide on {result['data']['source']} "
                        f"({result['data']['rows']} rows)")
    for name in ("rank", "model", metric, "p95 ms", "CPU s/row", "$ / 1M", "kWh / 1M",
                 "kg CO2 / 1M", "$ / month", "value / pred.", "Pareto"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for c in sorted(result["candidates"], key=lambda c: c["rank"]):
        table.add_row(str(c["rank"]), c["model"], fmt(c["metrics"].get(metric)),
                      f"{c['latency_ms']['p95']:.3g}", f"{c['cpu_seconds_per_row']:.3g}",
                      f"{c['cost_per_million']:.4g}", f"{c['kwh_per_million']:.4g}",
                      f"{c['co2_kg_per_million']:.4g}",
                      fmt(c.get("monthly_cost")), fmt(c.get("expected_value")),
                      "yes" if c["pareto"] else "")
    out = console()
    out.print(table)
    out.print(f"energy: {result['power']['method']}; carbon: {result['region']['name']}; "
              f"price ${result['prices']['cpu_hour']}/CPU-hour")
    out.print(f"[bold]{result['reason']}[/]")
    if report is not None:
        out.print(f"[green]report[/] written to [bold]{report}[/]")
