"""`lathe compare DATA --target COL`: a leaderboard of model families on the same split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json, fmt
from lathe.cli._progress import TrainProgress

__all__ = ["compare"]

# the leaderboard's human table: these metrics when the task reports them (--json has all)
SHOWN = ("roc_auc", "accuracy", "f1", "f1_macro", "log_loss", "rmse", "mae", "r2")


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
    from rich.table import Table

    shown = [m for m in SHOWN if any(m in row for row in board.rows)]
    if board.metric in shown:
        shown.remove(board.metric)
    shown.insert(0, board.metric)
    table = Table(title=f"{data}: {board.task}, test split", header_style="bold")
    table.add_column("model")
    for name in (*shown, "fit s", "rows/s", "size"):
        table.add_column(name, justify="right")
    for row in board.rows:
        table.add_row(row["model"], *(fmt(row.get(m)) for m in shown),
                      f"{row['fit_seconds']:.1f}", f"{row['predict_rows_per_second']:,.0f}",
                      _size(row["size_bytes"]))
    return table


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
