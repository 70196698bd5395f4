"""`lathe tune DATA --target COL`: an Optuna search whose best model is saved as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, console, emit_json, scalars
from lathe.cli._progress import TrialProgress

__all__ = ["tune"]


def tune(
    data: Annotated[Path, typer.Argument(help="Training data: CSV, Parquet or JSONL.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Label column.")],
    model: Annotated[str, typer.Option(help="Family to tune: gbm, linear, voting, stacking.")] = "gbm",
    trials: Annotated[int, typer.Option(
        help="Trials the study should have in total: a resumed study runs only those it "
             "lacks.")] = 50,
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
                                             "best model (default models/<data>-tuned); an "
                                             "existing artifact is refused unless --force.")
                                             ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the artifact already in "
                                        "--out.")] = False,
    positive_class: Annotated[str | None, typer.Option(
        "--positive-class", help="Binary label: the class plain precision, recall and f1 "
        "describe (default: the second of the sorted labels).")] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="CPU threads per fit (default: the cores free when a fit "
        "starts).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search hyperparameters with Optuna (pruned, resumable, shareable) and save the best model."""
    from lathe import api

    err = console()
    with TrialProgress(err, enabled=not as_json and err.is_terminal, total=trials) as progress:
        result = api.tune(data, target, model=model, trials=trials, timeout_s=timeout,
                          sampler=sampler, objectives=objectives, pruner=pruner, cv_folds=cv,
                          storage=storage, study_name=study, workers=workers, seed=seed,
                          sampler_seed=sampler_seed, space=space, bag_folds=bag,
                          refit_all=refit_all, progress=progress, threads=threads,
                          positive_class=positive_class, force=force,
                          out=out or api.default_out(data, suffix="-tuned"))
    path = result.model.path
    test = result.model.manifest["metrics"].get("test", {})
    if as_json:
        emit_json({"path": str(path), **result.summary(), "test_metrics": scalars(test)})
        return
    from rich.table import Table

    table = Table(title=f"study {result.study_name}: {result.counts}")
    table.add_column("parameter")
    table.add_column("best value", justify="right")
    for key, value in result.best_params.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    err.print(table)
    err.print(f"best {result.metric} ({'CV' if cv else 'validation'}): {result.best_value}")
    if result.pareto_front:
        err.print(f"Pareto front: {len(result.pareto_front)} model(s) in {path / 'pareto'}")
    if result.metric in test:
        err.print(f"held-out test {result.metric}: {test[result.metric]:.4f}")
    err.print(f"[green]saved[/] tuned {result.model.family.name} model to [bold]{path}[/]")
