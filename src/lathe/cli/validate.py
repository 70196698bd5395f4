"""`lathe validate MODEL DATA`: a validation suite as a gate (exit 1 when a check fails).

`--json` prints the whole result on stdout even when checks fail (CI reads `passed`,
`failed` and `checks`); humans get a table of checks on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json, fmt

__all__ = ["validate"]

FAILED_EXIT = 1


def validate(
    model: Annotated[
        str, typer.Argument(help="Artifact directory, NAME, NAME@alias or NAME:VERSION.")
    ],
    data: Annotated[Path, typer.Argument(help="Labelled held-out data to validate on.")],
    suite: Annotated[
        str, typer.Option("--suite", help="default | fairness | robustness | text.")
    ] = "default",
    sensitive: Annotated[
        str | None, typer.Option("--sensitive",
                                 help="Sensitive columns of DATA for fairness, e.g. sex,race.")
    ] = None,
    tests: Annotated[
        Path | None, typer.Option("--tests", help="Behaviour tests and thresholds (YAML).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report with plots here.")
    ] = None,
    train: Annotated[
        Path | None, typer.Option("--train", help="Training data for the train-vs-held-out "
                                                  "gap (default: the lineage's dataset).")
    ] = None,
    mitigate: Annotated[
        bool, typer.Option("--mitigate", help="Also fit Fairlearn's ThresholdOptimizer per "
                                              "sensitive column; report its cost and gain.")
    ] = False,
    learning_curve: Annotated[
        bool, typer.Option("--learning-curve", help="Refit the model's recipe on 10/25/50/100 %"
                                                    " of its training rows (slow).")
    ] = False,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Slices, fairness, robustness, behaviour tests and over-fitting: exit 1 if a check fails."""
    from lathe import api

    result = api.validate(str(model), data, suite=suite, sensitive=sensitive, tests=tests,
                          report=report, train=train, encoding=encoding, mitigate=mitigate,
                          learning_curve=learning_curve)
    if as_json:
        emit_json(result)
    else:
        _print(result)
    if not result["passed"]:
        raise typer.Exit(FAILED_EXIT)


def _print(result: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    table = Table(title=f"{result['suite']} suite on {result['data']} ({result['n_rows']:,} rows)",
                  header_style="bold")
    for column in ("check", "value", "threshold", ""):
        table.add_column(column, overflow="fold")
    for check in result["checks"]:
        table.add_row(check["name"], fmt(check["value"]), fmt(check["threshold"]),
                      "[green]pass[/]" if check["passed"] else "[red]FAIL[/]")
    out.print(table)
    worst = (result.get("worst_slices") or {}).get("slices") or []
    for found in worst[:5]:
        where = ", ".join(f"{k}={v}" for k, v in found["slice"].items())
        out.print(f"worst slice {where}: n={found['n']}, error {found['error_above_rest']:+.3f}"
                  f" vs rest (adjusted p={found['p_adjusted']:.2g})")
    for column, fix in (result.get("mitigation") or {}).items():
        out.print(f"mitigation on {column} ({fix['constraint']}): equalized-odds difference "
                  f"{fix['before']['equalized_odds_difference']:.3f} -> "
                  f"{fix['after']['equalized_odds_difference']:.3f}, accuracy "
                  f"{fix['before']['accuracy']:.4f} -> {fix['after']['accuracy']:.4f}")
    if result.get("report"):
        out.print(f"[green]report[/] written to [bold]{result['report']}[/]")
    verdict = "[green]passed[/]" if result["passed"] else (
        f"[red]failed[/]: {', '.join(result['failed'])}")
    out.print(f"validation {verdict} in {result['seconds']:.1f} s")
