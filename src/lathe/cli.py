"""The `lathe` command line: each command parses its options and calls one API function.

Human output (tables, progress) goes to stderr; `--json` prints exactly one JSON object on
stdout. Every LatheError becomes one line `error: ...` and its exit code — never a traceback
(set LATHE_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.errors import LatheError

app = typer.Typer(
    name="lathe",
    help="From a dataset to a model in production, and honest there.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _add_subcommands() -> None:
    # each sub-app module imports only typer at top level, so --help stays instant
    from lathe.registry.cli import registry_app

    app.add_typer(registry_app, name="registry")
    from lathe.serving.cli import deploy as deploy_command
    from lathe.serving.cli import serve as serve_command

    app.command("serve")(serve_command)
    app.command("deploy")(deploy_command)
    from lathe.compression.cli import compress as compress_command

    app.command("compress")(compress_command)
    from lathe.tuning.cli import explain as explain_command
    from lathe.tuning.cli import tune as tune_command

    app.command("tune")(tune_command)
    app.command("explain")(explain_command)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding", help="Text encoding of DATA (default UTF-8), e.g. latin-1, gb18030."
    ),
]


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=_json_default, ensure_ascii=False) + "\n")


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return "—" if value is None else str(value)


def _metrics_table(metrics: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, (int, float)) or value is None:
            table.add_row(key, _fmt(value))
    if metrics.get("positive_class") is not None:
        table.caption = f"precision, recall, f1: positive class {metrics['positive_class']!r}"
    return table


class _TrainProgress:
    """Rich progress display fed by the training callbacks."""

    def __init__(self, console: Any, enabled: bool) -> None:
        self.enabled = enabled
        self.console = console
        self.progress: Any = None
        self.task: Any = None
        self.member = ""

    def __enter__(self) -> _TrainProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("training", total=None)
        return self

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if self.progress is None:
            return
        if event == "member":
            self.member = f"model {info['member']}/{info['total']} "
        elif event == "plan":
            if info["fits"]:
                self.member = f"{info['member']} (about {info['estimate_s']} s) "
            else:
                self.console.print(
                    f"[dim]skipping the {info['member']}: it would take about "
                    f"{info['estimate_s']} s, and as long again to refit; "
                    f"{info['budget_left_s']} s of the time budget are left[/dim]")
        elif event == "refit":
            self.member = f"(refit on all {info['rows']} rows) "
            self.progress.update(self.task, description=f"training {self.member}")
        elif event == "round":
            self.progress.update(
                self.task,
                description=f"training {self.member}round",
                completed=info.get("round", 0),
                total=info.get("total"),
            )
        elif event == "epoch":
            valid = info.get("valid")
            shown = f" valid {info.get('metric') or 'score'} {valid:.4f}" if valid is not None else ""
            self.progress.update(
                self.task,
                description=f"training {self.member}epoch{shown}",
                completed=info.get("epoch", 0),
                total=info.get("total"),
            )

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


@app.command()
def check(
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or JSONL file.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Label column.")] = None,
    test: Annotated[
        Path | None, typer.Option("--test", help="A test file to check for overlap with DATA.")
    ] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check data quality: missing values, duplicates, conflicts, leaks, imbalance, overlap.

    Exits with code 65 when a problem blocks training.
    """
    from lathe import api

    report = api.check(data, target, test=test, encoding=encoding)
    if as_json:
        _emit_json(report.to_dict())
    else:
        _print_check(report)
    if report.blocking:
        raise typer.Exit(65)


def _print_check(report: Any) -> None:
    from rich.table import Table

    console = _console()
    table = Table(title=f"{report.source}: {report.n_rows:,} rows × {report.n_columns} columns")
    for name in ("column", "kind", "missing", "unique"):
        table.add_column(name, justify="right" if name in ("missing", "unique") else "left")
    for col in report.columns:
        missing = f"{col['missing']:,} ({col['missing_fraction']:.1%})" if col["missing"] else "0"
        table.add_row(str(col["name"]), str(col["kind"]), missing, f"{col['n_unique']:,}")
    console.print(table)
    styles = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for finding in report.findings:
        console.print(f"[{styles[finding.severity]}]{finding.severity:>7}[/] {finding.message}")
    if not report.findings:
        console.print("[green]no problems found[/]")
    verdict = (
        "[bold red]blocking problems: fix them before training[/]"
        if report.blocking
        else "[green]ready to train[/]"
    )
    console.print(verdict)


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Training data: CSV, Parquet or JSONL.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="Label column.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="auto, gbm, linear, mlp, text, voting, stacking (default auto)."),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="fast (seconds) or best (uses the budget).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="lathe.yaml with data/split/train sections.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Artifact directory.")] = None,
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
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Train a model and save it as an artifact directory."""
    from lathe import api
    from lathe.errors import UsageError

    if preset is not None and preset not in ("fast", "best"):
        raise UsageError(f"--preset must be fast or best, not {preset!r}")
    out_dir = out or Path("models") / (name or Path(data).stem)
    console = _console()
    with _TrainProgress(console, enabled=not as_json and console.is_terminal) as progress:
        fitted = api.train(
            data,
            target,
            model=model,
            preset=preset,
            task=task,
            config=config,
            time_budget_s=time_budget,
            seed=seed,
            text_columns=text or None,
            categorical_columns=categorical or None,
            drop_columns=drop or None,
            encoding=encoding,
            progress=progress,
            checkpoint_dir=out_dir.with_name(out_dir.name + ".checkpoints"),
            resume=resume,
            catch_all=catch_all,
            abstain_rate=abstain_rate,
            refit=refit,
        )
    fitted.manifest["name"] = name or out_dir.name
    path = fitted.save(out_dir)
    # the run finished and its artifact is saved: nothing left to resume
    shutil.rmtree(out_dir.with_name(out_dir.name + ".checkpoints"), ignore_errors=True)
    test_metrics = fitted.manifest["metrics"].get("test", {})
    if as_json:
        _emit_json(
            {
                "path": str(path),
                "name": fitted.manifest["name"],
                "family": fitted.family.name,
                "task": fitted.task,
                "target": fitted.schema.target,
                "seconds": fitted.manifest["training"]["seconds"],
                "refit": fitted.manifest["training"]["refit"],
                "notes": fitted.schema.notes,
                "test_metrics": {
                    k: v
                    for k, v in test_metrics.items()
                    if isinstance(v, (int, float)) or v is None
                },
            }
        )
        return
    for note in fitted.schema.notes:
        console.print(f"[dim]note:[/] {note}")
    if test_metrics:
        console.print(_metrics_table(test_metrics, "held-out test split"))
    console.print(
        f"[green]saved[/] {fitted.family.name} {fitted.task} model to [bold]{path}[/] "
        f"in {fitted.manifest['training']['seconds']:.1f} s"
    )


@app.command()
def evaluate(
    model: Annotated[
        str, typer.Argument(help="Artifact directory, NAME, NAME@alias or NAME:VERSION.")
    ],
    data: Annotated[Path, typer.Argument(help="Labelled data to evaluate on.")],
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here.")
    ] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a model on labelled data: metrics table, optional HTML report."""
    from lathe import api

    metrics = api.evaluate(model, data, report=report, encoding=encoding)
    if as_json:
        _emit_json(dict(metrics))
        return
    console = _console()
    console.print(_metrics_table(metrics, f"{model} on {data}"))
    if report is not None:
        console.print(f"[green]report[/] written to [bold]{report}[/]")


@app.command()
def predict(
    model: Annotated[
        str, typer.Argument(help="Artifact directory, NAME, NAME@alias or NAME:VERSION.")
    ],
    data: Annotated[Path, typer.Argument(help="Rows to score.")],
    out: Annotated[
        Path | None,
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
) -> None:
    """Append predictions to the input rows."""
    from lathe import api

    loaded = api.load(model)
    scored, conform_report = loaded.score_frame(data, proba=proba, strict=strict, encoding=encoding)
    console = _console()
    for warning in conform_report.warnings():
        console.print(f"[yellow]warning:[/] {warning}")
    if out is None:
        scored.to_csv(sys.stdout, index=False)
        return
    api.write_table_atomic(scored, out)
    console.print(f"[green]wrote[/] {len(scored):,} predictions to [bold]{out}[/]")


@app.command()
def version() -> None:
    """Print the lathe version."""
    from lathe import __version__

    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    try:
        # without standalone mode, click returns the code of a typer.Exit instead of raising
        result = app(args=argv, standalone_mode=False)
        if isinstance(result, int):
            return result
    except LatheError as err:
        if os.environ.get("LATHE_DEBUG"):
            raise
        _print_error(str(err))
        return err.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except Exception as err:  # noqa: BLE001 - the last line of defence for the CLI
        import click

        if isinstance(err, click.exceptions.ClickException):
            err.show()
            return err.exit_code
        if isinstance(err, click.exceptions.Abort):
            _print_error("aborted")
            return 130
        if os.environ.get("LATHE_DEBUG"):
            raise
        _print_error(
            f"internal error: {type(err).__name__}: {err} "
            "(this is a bug in lathe; rerun with LATHE_DEBUG=1 and report the traceback)"
        )
        return 70
    return 0


def _print_error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def run() -> None:
    sys.exit(main())


# after the core commands, so `lathe --help` lists them first
_add_subcommands()

if __name__ == "__main__":
    run()

