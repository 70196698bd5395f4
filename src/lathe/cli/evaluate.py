"""`lathe evaluate MODEL DATA`: metrics on labelled rows, optionally an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import (
    EncodingOption,
    JsonFlag,
    console,
    emit_json,
    metrics_table,
    warn_training_overlap,
)

__all__ = ["evaluate"]


def evaluate(
    model: Annotated[
        str, typer.Argument(help="Artifact directory, NAME, NAME@alias or NAME:VERSION.")
    ],
    data: Annotated[Path, typer.Argument(help="Labelled data to evaluate on.")],
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here.")
    ] = None,
    costs: Annotated[
        str | None, typer.Option(
            help="What each outcome is worth (correct=0.4,wrong=-2 / tp=..,fp=..,tn=..,fn=.. / "
                 "a YAML file): expected value per prediction and, for binary models, the "
                 "value-maximising threshold.")
    ] = None,
    save_threshold: Annotated[
        bool, typer.Option("--save-threshold",
                           help="Write the best threshold into the artifact (with --costs).")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Metrics per slice of these columns (col1,col2; "
                                             "`language` for text), worst slices first.")
    ] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a model on labelled data: metrics table, optional HTML report."""
    from lathe import api

    metrics = api.evaluate(model, data, report=report, encoding=encoding, costs=costs,
                           save_threshold=save_threshold, by=by)
    warn_training_overlap(metrics.get("training_overlap"))
    if as_json:
        emit_json(dict(metrics))
        return
    out = console()
    out.print(metrics_table(metrics, f"{model} on {data}"))
    _print_slices(out, metrics)
    value = metrics.get("value")
    if value:
        line = f"expected value per prediction: {value['expected_value']:.4g}"
        if "threshold" in value:
            line += (f"; best threshold on P({value['positive_class']}) "
                     f"{value['threshold']:.4g} -> {value['expected_value_at_threshold']:.4g}"
                     f" (0.5 -> {value['expected_value_at_0_5']:.4g})")
        out.print(line)
        if value.get("saved_to"):
            out.print(f"[green]threshold saved[/] in [bold]{value['saved_to']}[/]")
    if report is not None:
        out.print(f"[green]report[/] written to [bold]{report}[/]")


def _print_slices(out: Any, metrics: Any) -> None:
    """Worst slices first, then each column's slices with support and interval."""
    from rich.table import Table

    from lathe.cli._output import fmt

    for found in (metrics.get("worst_slices") or {}).get("slices", [])[:10]:
        where = ", ".join(f"{k}={v}" for k, v in found["slice"].items())
        out.print(f"[red]worst slice[/] {where}: n={found['n']}, error "
                  f"{found['error_above_rest']:+.3f} vs rest (adjusted p={found['p_adjusted']:.2g})")
    sections = dict(metrics.get("slices") or {})
    if metrics.get("by_language"):
        sections["language (detected)"] = metrics["by_language"]
    for column, values in sections.items():
        table = Table(title=f"by {column}", header_style="bold")
        for name in ("value", "n", "accuracy", "95% interval", "mae"):
            table.add_column(name)
        for value, m in values.items():
            ci = m.get("accuracy_ci") or m.get("mae_ci") or [None, None]
            table.add_row(str(value), f"{m['n']:,}", fmt(m.get("accuracy")),
                          f"{fmt(ci[0])} - {fmt(ci[1])}", fmt(m.get("mae")))
        out.print(table)
