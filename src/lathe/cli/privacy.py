"""`lathe privacy mask|audit|stats`: PII masking of files, the membership-inference audit of
a model and differentially private statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json

__all__ = ["app", "print_pii"]

app = typer.Typer(name="privacy", help="PII masking, membership-inference audit, DP statistics.",
                  no_args_is_help=True)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@app.command("mask")
def mask(
    data: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or Parquet file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the masked copy.")],
    columns: Annotated[list[str] | None, typer.Option(
        "--columns", help="COL[,COL]: the columns to mask (default: every column where PII "
        "is found).")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="redact (<TYPE>), hash (keyed HMAC, <TYPE:hex>) or pseudonym "
        "(<TYPE_n>, the same value -> the same n).")] = "redact",
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="Key for --mode hash (default $LATHE_PII_KEY; else a random key "
        "for this run only).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out.")] = False,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a copy of DATA with its PII masked; every other cell is kept byte for byte."""
    from lathe import api

    result = api.privacy_mask(data, out, columns=_split(columns), mode=mode,
                              key_file=key_file, encoding=encoding, force=force)
    if as_json:
        emit_json(result)
        return
    masked = ", ".join(f"{k} {v:,}" for k, v in result["masked"].items()) or "nothing found"
    console().print(f"masked {masked} in {result['rows']:,} rows of "
                    f"{', '.join(result['columns']) or 'no column'} -> [bold]{result['out']}[/]")


def print_pii(report: dict[str, Any]) -> None:
    """The `check --pii` section for humans."""
    from rich.table import Table

    out = console()
    if not report["columns"]:
        out.print(f"[green]no PII found[/] in {report['rows']:,} rows")
        return
    table = Table(title=f"PII in {report['rows']:,} rows")
    for name in ("column", "rows", "types", "example (masked)"):
        table.add_column(name)
    for col, info in report["columns"].items():
        types = ", ".join(f"{k} {v:,}" for k, v in info["types"].items())
        table.add_row(col, f"{info['rows_with_pii']:,} ({info['share']:.1%})", types,
                      (info["examples"] or [""])[0])
    out.print(table)
