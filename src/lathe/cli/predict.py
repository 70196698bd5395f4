"""`lathe predict MODEL DATA`: the input rows with predictions appended."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import EncodingOption, console

__all__ = ["predict"]


def predict(
    model: Annotated[
        str, typer.Argument(help="Artifact directory, NAME, NAME@alias or NAME:VERSION.")
    ],
    data: Annotated[Path, typer.Argument(help="Rows to score.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output file (.csv/.parquet/.jsonl); stdout CSV if absent."
        ),
    ] = None,
    proba: Annotated[
        bool, typer.Option("--proba", help="Add a probability column per class.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse extra columns and unseen categories.")
    ] = False,
    encoding: EncodingOption = None,
) -> None:
    """Append predictions to the input rows."""
    from lathe import api

    scored = api.predict(model, data, proba=proba, strict=strict, out=out, encoding=encoding)
    err = console()
    for warning in scored.attrs.get("warnings", []):
        err.print(f"[yellow]warning:[/] {warning}")
    if out is None:
        scored.to_csv(sys.stdout, index=False)
        return
    err.print(f"[green]wrote[/] {len(scored):,} predictions to [bold]{out}[/]")
