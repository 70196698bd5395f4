"""`lathe train DATA --target COL`: fit a model and save it as an artifact directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from lathe.cli._output import (
    EncodingOption,
    JsonFlag,
    console,
    emit_json,
    metrics_table,
    scalars,
)
from lathe.cli._progress import TrainProgress

__all__ = ["train"]


def train(
    data: Annotated[Path, typer.Argument(help="Training data: CSV, Parquet or JSONL.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Label column.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="auto, gbm, linear, mlp, text, voting, stacking (default auto)."),
    ] = None,
    preset: Annotated[
        Literal["fast", "best"] | None,
        typer.Option(help="fast (seconds) or best (uses the budget)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="lathe.yaml with data/split/train sections.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Artifact directory (default models/<name or DATA's "
                     "stem>); an existing artifact is refused unless --force."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the artifact already in --out.")
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Model name (default: the --out directory name).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="binary, multiclass or regression (inferred).")
    ] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds to spend (best preset).")
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="Treat COLUMN as free text.")
    ] = None,
    categorical: Annotated[
        list[str] | None, typer.Option("--categorical", help="Treat COLUMN as categorical.")
    ] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="Ignore COLUMN.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a killed run of a torch model (mlp, text) from OUT.checkpoints/.",
        ),
    ] = False,
    catch_all: Annotated[
        str | None,
        typer.Option("--catch-all", help="The label meaning 'none of the others' (e.g. oos): "
                     "rows no class explains go to it. auto (default) finds oos/out_of_scope/...; "
                     "off disables."),
    ] = None,
    abstain_rate: Annotated[
        float | None,
        typer.Option("--abstain-rate", help="Share of in-scope validation rows the catch-all "
                     "may take (default 0.03)."),
    ] = None,
    refit: Annotated[
        bool | None,
        typer.Option("--refit/--no-refit", help="Once the test split is scored, refit on "
                     "every labelled row (default on)."),
    ] = None,
    positive_class: Annotated[
        str | None,
        typer.Option("--positive-class", help="Binary label: the class plain precision, "
                     "recall and f1 describe (default: the second of the sorted labels)."),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="CPU threads per fit (default: gbm uses the "
                     "cores free when a fit starts, torch models all cores)."),
    ] = None,
    refuse_pii: Annotated[
        bool | None,
        typer.Option("--refuse-pii", help="Refuse data whose feature columns hold PII "
                     "(mask it first with lathe privacy mask)."),
    ] = None,
    dp_epsilon: Annotated[
        float | None,
        typer.Option("--dp-epsilon", help="Train with differential privacy (mlp, linear): "
                     "the epsilon the whole run may spend (DP-SGD with Opacus)."),
    ] = None,
    dp_delta: Annotated[
        float | None,
        typer.Option("--dp-delta", help="The delta of --dp-epsilon (default min(1e-5, "
                     "1/(10 n)); must be below 1/n)."),
    ] = None,
    encoding: EncodingOption = None,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", help="Ed25519 private key (lathe keys new) to sign the "
                     "artifact's manifest with (default: LATHE_SIGNING_KEY)."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Fit on a Dask cluster: dask://local?workers=N starts "
                     "one, dask://HOST:PORT uses a running scheduler (gbm: LightGBM's Dask "
                     "estimators)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train a model and save it as an artifact directory."""
    from lathe import api

    err = console()
    with TrainProgress(err, enabled=not as_json and err.is_terminal) as progress:
        fitted = api.train(
            data, target, model=model, preset=preset, task=task, config=config,
            time_budget_s=time_budget, seed=seed, text_columns=text or None,
            categorical_columns=categorical or None, drop_columns=drop or None,
            encoding=encoding, progress=progress, resume=resume, catch_all=catch_all,
            abstain_rate=abstain_rate, refit=refit, positive_class=positive_class,
            threads=threads, name=name, force=force, sign=sign,
            dp_epsilon=dp_epsilon, dp_delta=dp_delta, refuse_pii=refuse_pii,
            engine=engine,
            out=out or api.default_out(data, name=name),
        )
    manifest = fitted.manifest
    test = manifest["metrics"].get("test", {})
    test_metrics = {**scalars(test), **({"positive_class": test["positive_class"]}
                                        if "positive_class" in test else {})}
    if as_json:
        emit_json({
            "path": str(fitted.path), "name": manifest["name"], "family": fitted.family.name,
            "task": fitted.task, "target": fitted.schema.target,
            "seconds": manifest["training"]["seconds"], "refit": manifest["training"]["refit"],
            "notes": fitted.schema.notes, "test_metrics": test_metrics,
            "signature": {k: manifest["signature"].get(k) for k in ("signer", "key_id")}
            if manifest.get("signature") else None,
            **({"privacy": manifest["privacy"]} if "privacy" in manifest else {}),
        })
        return
    for note in fitted.schema.notes:
        err.print(f"[dim]note:[/] {note}")
    if test_metrics:
        err.print(metrics_table(manifest["metrics"]["test"], "held-out test split"))
    if "privacy" in manifest:
        spent = manifest["privacy"]
        err.print(f"differentially private: epsilon {spent['epsilon']:.3f} of "
                  f"{spent['target_epsilon']:g} spent, delta {spent['delta']:.2g} "
                  f"({spent['accountant']} accountant, noise {spent['noise_multiplier']:.3f})")
    err.print(
        f"[green]saved[/] {fitted.family.name} {fitted.task} model to [bold]{fitted.path}[/] "
        f"in {manifest['training']['seconds']:.1f} s"
    )
