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
    from lathe.data.load import read_table
    from lathe.explain import explain_rows, global_importance, write_explain_report

    loaded = api.load(model)
    frame = read_table(data)
    contributions = explain_rows(loaded, frame.iloc[: max(rows, 1)])
    importance = global_importance(loaded, frame)
    if report is not None:
        write_explain_report(report, loaded, frame, rows=rows)
    if as_json:
        emit_json({
            "method": contributions.attrs["method"],
            "units": contributions.attrs["units"],
            "global_importance": {
                name: {k: (None if v != v else float(v)) for k, v in row.items()}
                for name, row in importance.to_dict(orient="index").items()},
            "rows": [{"row": int(i) if isinstance(i, (int,)) else str(i),
                      "explained_class": (contributions.attrs["explained_class"] or [None] * len(contributions))[n],
                      "base_value": contributions.attrs["base_value"][n],
                      "contributions": {k: float(v) for k, v in contributions.loc[i].items()}}
                     for n, i in enumerate(contributions.index)],
            "report": str(report) if report is not None else None,
        })
        return
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
