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
    data: Annotated[str, typer.Argument(
        help="Rows to score (with --engine: a path, glob or fsspec URL such as s3://...).")],
    out: Annotated[
        str | None,  # text, not Path: "DIR/" (partitions with --engine) keeps its slash
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
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Score partitions on a Dask cluster: "
                     "dask://local?workers=N or dask://HOST:PORT (needs --out: FILE in input "
                     "order, or DIR/ for one Parquet file per partition)."),
    ] = None,
) -> None:
    """Append predictions to the input rows."""
    from lathe import api

    if engine is not None:
        if out is None:
            from lathe.errors import UsageError

            raise UsageError("--engine writes its predictions to --out",
                             hint="add --out FILE.csv (input order) or --out DIR/")
        done = api.predict_on_engine(api.load(model), data, out=out, engine=engine,
                                     proba=proba, strict=strict)
        console().print(f"[green]wrote[/] {done['rows']:,} predictions to [bold]{out}[/] "
                        f"({done['partitions']} partitions, {done['rows_per_second']:,.0f} "
                        "rows/s)")
        return
    scored = api.predict(model, Path(data), proba=proba, strict=strict,
                         out=None if out is None else Path(out),
                         encoding=encoding)
    err = console()
    for warning in scored.attrs.get("warnings", []):
        err.print(f"[yellow]warning:[/] {warning}")
    if out is None:
        scored.to_csv(sys.stdout, index=False)
        return
    err.print(f"[green]wrote[/] {len(scored):,} predictions to [bold]{out}[/]")
