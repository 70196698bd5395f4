"""`lathe check DATA`: the data-quality report, and exit 65 when a problem blocks training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json
from lathe.cli._usage import cli_wording

__all__ = ["check"]


def check(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or JSONL file.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Label column.")] = None,
    test: Annotated[
        Path | None, typer.Option("--test", help="A test file to check for overlap with DATA.")
    ] = None,
    pii: Annotated[
        bool, typer.Option("--pii", help="Also report which columns hold which kinds of PII.")
    ] = False,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check data quality: missing values, duplicates, conflicts, leaks, imbalance, overlap.

    Exits with code 65 when a problem blocks training.
    """
    from lathe import api

    report = api.check(data, target, test=test, encoding=encoding)
    found = api.pii_scan(data, encoding=encoding) if pii else None
    if as_json:
        payload = report.to_dict()
        if payload.get("task_note"):
            payload["task_note"] = cli_wording(payload["task_note"])
        if found is not None:
            payload["pii"] = found
        emit_json(payload)
    else:
        _print_check(report)
        if found is not None:
            from lathe.cli.privacy import print_pii

            print_pii(found)
    if report.blocking:
        raise typer.Exit(65)


def _print_check(report: Any) -> None:
    from rich.table import Table

    out = console()
    table = Table(title=f"{report.source}: {report.n_rows:,} rows × {report.n_columns} columns")
    for name in ("column", "kind", "missing", "unique"):
        table.add_column(name, justify="right" if name in ("missing", "unique") else "left")
    for col in report.columns:
        missing = f"{col['missing']:,} ({col['missing_fraction']:.1%})" if col["missing"] else "0"
        table.add_row(str(col["name"]), str(col["kind"]), missing, f"{col['n_unique']:,}")
    out.print(table)
    if report.task_note:
        out.print(f"[bold]task[/] {cli_wording(report.task_note)}")
    styles = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for finding in report.findings:
        out.print(f"[{styles[finding.severity]}]{finding.severity:>7}[/] {finding.message}")
    if not report.findings:
        out.print("[green]no problems found[/]")
    verdict = (
        "[bold red]blocking problems: fix them before training[/]"
        if report.blocking
        else "[green]ready to train[/]"
    )
    out.print(verdict)
