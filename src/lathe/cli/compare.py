"""`lathe compare DATA --target COL`: a leaderboard of model families on the same split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json, fmt
from lathe.cli._progress import TrainProgress

__all__ = ["compare"]

def compare(
    data: Annotated[Path, typer.Argument(help="Training data: CSV, Parquet or JSONL.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Label column.")] = None,
    models: Annotated[str, typer.Option(
        help="Comma-separated families to train: gbm, linear, mlp, text, ...")
    ] = "gbm,linear,mlp",
    preset: Annotated[Literal["fast", "best"], typer.Option(
        help="fast (seconds each) or best (each uses the budget).")] = "fast",
    config: Annotated[Path | None, typer.Option(
        help="lathe.yaml with data/split/train sections.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    time_budget: Annotated[float | None, typer.Option(
        "--time-budget", help="Seconds each family may spend (best preset).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Save the winner (by the primary metric) here; an existing "
        "artifact is refused unless --force.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the artifact already in "
                                        "--out.")] = False,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Train several model families on the same split and rank them: every test metric,
    fit seconds, predict rows/s and artifact size."""
    from lathe import api

    err = console()
    with TrainProgress(err, enabled=not as_json and err.is_terminal) as progress:
        board = api.compare(data, target, models=models, preset=preset, config=config,
                            seed=seed, time_budget_s=time_budget, encoding=encoding,
                            progress=progress, out=out, force=force)
    if as_json:
        emit_json({**board.to_dict(), "path": str(out) if out is not None else None})
        return
    err.print(_board_table(board, data))
    err.print(f"winner by {board.metric} on the held-out test split: [bold]{board.winner}[/]")
    if out is not None:
        err.print(f"[green]saved[/] the {board.winner} model to [bold]{out}[/]")


def _board_table(board: Any, data: Path) -> Any:
    """One column per model (best first), one row per metric: every test metric fits in 80
    columns this way, where a column per metric would not."""
    from rich.table import Table

    metrics = [board.metric] + sorted(
        {k for row in board.rows for k in row} - {"model", board.metric, "fit_seconds",
                                                   "predict_rows_per_second", "size_bytes",
                                                   "positive_class"})
    table = Table(title=f"{data}: {board.task}, held-out test split", header_style="bold")
    table.add_column("")
    for row in board.rows:
        table.add_column(row["model"], justify="right")
    for metric in metrics:
        table.add_row(metric, *(fmt(row.get(metric)) for row in board.rows),
                      style="bold" if metric == board.metric else None)
    table.add_row("fit seconds", *(f"{row['fit_seconds']:.1f}" for row in board.rows))
    table.add_row("predict rows/s",
                  *(f"{row['predict_rows_per_second']:,.0f}" for row in board.rows))
    table.add_row("size", *(_size(row["size_bytes"]) for row in board.rows))
    positive = board.rows[0].get("positive_class")
    if positive is not None:
        table.caption = f"precision, recall, f1: positive class {positive!r}"
    return table


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
