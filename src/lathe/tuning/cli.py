"""Typer command functions for `lathe tune` and `lathe explain`.

The main CLI registers them (`app.command()(tune)`, `app.command()(explain)`); each parses
options and calls one library function. Human output goes to stderr, `--json` prints one
JSON object on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["tune", "explain"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _emit(payload: dict[str, Any]) -> None:
    import numpy as np

    def default(value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else str(value)

    sys.stdout.write(json.dumps(payload, default=default, ensure_ascii=False) + "\n")


def tune(
    data: Annotated[Path, typer.Argument(help="Training data: CSV, Parquet or JSONL.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Label column.")],
    model: Annotated[str, typer.Option(help="Family to tune: gbm, linear, voting, stacking.")] = "gbm",
    trials: Annotated[int, typer.Option(help="Trials the study should have in total.")] = 50,
    timeout: Annotated[float | None, typer.Option(help="Seconds to spend at most.")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Study storage URL (default sqlite:///.lathe/tuning.db), e.g. "
             "postgresql://user@host:5432/db so workers on other machines can join.")] = None,
    study: Annotated[str | None, typer.Option(
        help="Study name (default derived from data, target, model; an existing one resumes).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    sampler: Annotated[str, typer.Option(help="tpe, random, grid or nsga2.")] = "tpe",
    objectives: Annotated[str, typer.Option(
        help="Comma-separated: quality (or auc/accuracy/rmse) and optionally latency.")] = "quality",
    pruner: Annotated[str, typer.Option(help="median, halving, hyperband or none.")] = "median",
    cv: Annotated[int | None, typer.Option("--cv", help="Cross-validation folds (default: "
                                           "the validation split).")] = None,
    space: Annotated[Path | None, typer.Option(
        help="YAML narrowing/widening the search space, e.g. num_leaves: {low: 16, high: 64}.")] = None,
    bag: Annotated[int | None, typer.Option(
        "--bag", help="gbm: bag the best parameters over K folds of train+valid (as --preset "
        "best does) instead of one refit.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (splits, folds, fits, sampler).")] = 0,
    sampler_seed: Annotated[int | None, typer.Option(
        "--sampler-seed", help="Seed of the sampler's draws alone (default: --seed).")] = None,
    refit_all: Annotated[bool, typer.Option(
        "--refit/--no-refit", help="Once the test split is scored, refit the best model on "
        "every labelled row (default on).")] = True,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Artifact directory for the "
                                             "best model (default models/<data>-tuned).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search hyperparameters with Optuna (pruned, resumable, shareable) and save the best model."""
    from lathe.tuning import load_space_overrides
    from lathe.tuning import tune as run_tune

    console = _console()
    overrides = load_space_overrides(space) if space is not None else None
    show = not as_json and console.is_terminal
    progress_bar: Any = None
    if show:
        from rich.progress import Progress

        progress_bar = Progress(console=console, transient=True)
        progress_bar.start()
        task = progress_bar.add_task("tuning", total=trials)

    def progress(event: str, info: dict[str, Any]) -> None:
        if progress_bar is not None and event == "trial":
            progress_bar.update(task, completed=info["trial"], total=info["total"])

    try:
        result = run_tune(data, target, model=model, trials=trials, timeout_s=timeout,
                          sampler=sampler, objectives=objectives, pruner=pruner, cv_folds=cv,
                          storage=storage, study_name=study, workers=workers, seed=seed,
                          sampler_seed=sampler_seed, space_overrides=overrides, bag_folds=bag,
                          refit_all=refit_all, progress=progress)
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    out_dir = out or Path("models") / f"{Path(data).stem}-tuned"
    result.model.manifest["name"] = out_dir.name
    path = result.save(out_dir)
    test = result.model.manifest["metrics"].get("test", {})
    test_scalars = {k: v for k, v in test.items() if isinstance(v, (int, float)) or v is None}
    if as_json:
        _emit({"path": str(path), **result.summary(), "test_metrics": test_scalars})
        return
    from rich.table import Table

    table = Table(title=f"study {result.study_name}: {result.counts}")
    table.add_column("parameter")
    table.add_column("best value", justify="right")
    for key, value in result.best_params.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"best {result.metric} ({'CV' if cv else 'validation'}): {result.best_value}")
    if result.pareto_front:
        console.print(f"Pareto front: {len(result.pareto_front)} model(s) in {path / 'pareto'}")
    if result.metric in test:
        console.print(f"held-out test {result.metric}: {test[result.metric]:.4f}")
    console.print(f"[green]saved[/] tuned {result.model.family.name} model to [bold]{path}[/]")


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
        _emit({
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

    console = _console()
    table = Table(title=f"global importance ({importance.attrs['n_rows']} rows)")
    for name in ("feature", "permutation", "mean |contribution|"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for name, row in importance.head(15).iterrows():
        perm = "—" if row["permutation_mean"] != row["permutation_mean"] else f"{row['permutation_mean']:.4f}"
        table.add_row(str(name), perm, f"{row['mean_abs_contribution']:.4f}")
    console.print(table)
    for _n, i in enumerate(contributions.index):
        top = contributions.loc[i].sort_values(key=abs, ascending=False).head(5)
        parts = ", ".join(f"{k} {v:+.3f}" for k, v in top.items())
        console.print(f"row {i}: {parts}")
    if report is not None:
        console.print(f"[green]report[/] written to [bold]{report}[/]")
