"""`lathe compress MODEL --method int8|prune|distill`: a smaller artifact, parent vs child.

Human output (the parent-vs-child table) goes to stderr; `--json` prints one JSON object on
stdout: the manifest's `compression` section plus `artifact`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, console, emit_json, warn_training_overlap

__all__ = ["compress"]


def compress(
    model: Annotated[str, typer.Argument(help="Artifact path, NAME, NAME@alias or NAME:VERSION.")],
    method: Annotated[str, typer.Option("--method", "-m", help="int8, prune or distill.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for the compressed "
                                             "artifact (default <model>-<method>); an existing "
                                             "artifact is refused unless --force.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the artifact already in "
                                        "--out.")] = False,
    data: Annotated[Path | None, typer.Option(
        help="Labelled data: 20% measures parent vs child, the rest may fit the child "
             "(default: the parent's training file, if it still exists).")] = None,
    eval_data: Annotated[Path | None, typer.Option(
        "--eval-data", help="Labelled rows to measure on (then all of --data may fit the "
        "child).")] = None,
    sparsity: Annotated[float | None, typer.Option(
        help="prune: share to remove in [0, 1): trees for gbm; neurons, attention heads and "
             "FFN neurons (--kind structured) or weights (--kind magnitude) for torch models "
             "(default 0.3).")] = None,
    kind: Annotated[str | None, typer.Option(
        help="prune, mlp/text models: structured (default: removes hidden neurons, or "
             "attention heads + FFN neurons; smaller and faster) or magnitude (zeroes the "
             "smallest weights; same size and speed).")] = None,
    recover: Annotated[bool, typer.Option(
        "--recover/--no-recover", help="prune, mlp/text models: fine-tune the pruned net on "
        "the fit rows towards the parent (default on).")] = True,
    student: Annotated[str | None, typer.Option(
        help="distill: linear, small-encoder (the text teacher's encoder cut to 4 layers), "
             "tiny-encoder (3 layers), small-encoder+linear or tiny-encoder+linear (blended "
             "with TF-IDF on validation) or gbm.")] = None,
    scheme: Annotated[str | None, typer.Option(
        help="int8: auto (default: dynamic if it agrees with the parent on calibration rows, "
             "else weight-only), dynamic (fastest, best for big batches) or weight-only.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a smaller artifact and show what it cost, parent vs child on the same rows."""
    from lathe import api
    from lathe.compression.measure import format_table

    report = api.compress(model, method, data=data, eval_data=eval_data, sparsity=sparsity,
                          student=student, scheme=scheme, kind=kind, recover=recover,
                          force=force, out=out or api.default_out(model, suffix=f"-{method}"))
    warn_training_overlap(report["evaluation"].get("training_overlap"), "the quality rows",
                          " (pass --eval-data)")
    if as_json:
        emit_json(report)
        return
    err = console()
    err.print(f"[bold]{method}[/]: {report['parent']['family']} -> {report['child']['family']}"
              f" on {report['evaluation']['rows']} held-out rows of "
              f"{report['evaluation']['source']}")
    err.print(format_table(report["table"]), markup=False)
    if report["evaluation"].get("positive_class") is not None:
        err.print(f"precision, recall and f1 are those of the positive class "
                  f"{report['evaluation']['positive_class']!r}", markup=False)
    err.print(f"agreement with the parent: {report['agreement']:.2%}")
    err.print(f"[green]wrote[/] [bold]{report['artifact']}[/]")
