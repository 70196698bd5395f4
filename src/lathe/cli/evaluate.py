"""`lathe evaluate MODEL DATA`: metrics on labelled rows, optionally an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a model on labelled data: metrics table, optional HTML report."""
    from lathe import api

    metrics = api.evaluate(model, data, report=report, encoding=encoding)
    warn_training_overlap(metrics.get("training_overlap"))
    if as_json:
        emit_json(dict(metrics))
        return
    out = console()
    out.print(metrics_table(metrics, f"{model} on {data}"))
    if report is not None:
        out.print(f"[green]report[/] written to [bold]{report}[/]")
