"""`lathe explain MODEL DATA`: global importance and per-row contributions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, console, emit_json

__all__ = ["explain"]


def explain(
    model: Annotated[str, typer.Argument(help="Artifact path, NAME, NAME@alias or NAME:VERSION.")],
    data: Annotated[Path, typer.Argument(help="Rows to explain (labelled rows add "
                                         "permutation importance).")],
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    rows: Annotated[int, typer.Option(help="Rows to explain one by one.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Explain a model: global importance and per-row contributions (SHAP)."""
    from lathe import api

    result = api.explain(model, data, rows=rows, report=report)
    if as_json:
        emit_json({**result.to_dict(), "report": str(report) if report is not None else None})
        return
    importance, contributions = result.importance, result.contributions
    from rich.table import Table

    err = console()
    table = Table(title=f"global importance ({importance.attrs['n_rows']} rows)")
    for name in ("feature", "permutation", "mean |contribution|"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for name, row in importance.head(15).iterrows():
        perm = "—" if row["permutation_mean"] != row["permutation_mean"] else f"{row['permutation_mean']:.4f}"
        table.add_row(str(name), perm, f"{row['mean_abs_contribution']:.4f}")
    err.print(table)
    for _n, i in enumerate(contributions.index):
        top = contributions.loc[i].sort_values(key=abs, ascending=False).head(5)
        parts = ", ".join(f"{k} {v:+.3f}" for k, v in top.items())
        err.print(f"row {i}: {parts}")
    if report is not None:
        err.print(f"[green]report[/] written to [bold]{report}[/]")
