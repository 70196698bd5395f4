"""`lathe privacy mask|audit|stats`: PII masking of files, the membership-inference audit of
a model and differentially private statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import EncodingOption, JsonFlag, console, emit_json

__all__ = ["app", "print_pii"]

app = typer.Typer(name="privacy", help="PII masking, membership-inference audit, DP statistics.",
                  no_args_is_help=True)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@app.command("mask")
def mask(
    data: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or Parquet file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the masked copy.")],
    columns: Annotated[list[str] | None, typer.Option(
        "--columns", help="COL[,COL]: the columns to mask (default: every column where PII "
        "is found).")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="redact (<TYPE>), hash (keyed HMAC, <TYPE:hex>) or pseudonym "
        "(<TYPE_n>, the same value -> the same n).")] = "redact",
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="Key for --mode hash (default $LATHE_PII_KEY; else a random key "
        "for this run only).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out.")] = False,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write a copy of DATA with its PII masked; every other cell is kept byte for byte."""
    from lathe import api

    result = api.privacy_mask(data, out, columns=_split(columns), mode=mode,
                              key_file=key_file, encoding=encoding, force=force)
    if as_json:
        emit_json(result)
        return
    masked = ", ".join(f"{k} {v:,}" for k, v in result["masked"].items()) or "nothing found"
    console().print(f"masked {masked} in {result['rows']:,} rows of "
                    f"{', '.join(result['columns']) or 'no column'} -> [bold]{result['out']}[/]")


@app.command("audit")
def audit(
    model: Annotated[str, typer.Argument(help="Artifact directory, NAME, NAME@alias or "
                                         "NAME:VERSION.")],
    members: Annotated[Path, typer.Option("--members", help="Rows the model was trained on "
                                          "(with labels).")],
    non_members: Annotated[Path, typer.Option("--non-members", help="Rows of the same kind "
                                              "it never saw (with labels).")],
    shadows: Annotated[int, typer.Option("--shadows", help="Reference fits for the offline "
                                         "LiRA attack (0 = loss threshold only).")] = 4,
    max_rows: Annotated[int, typer.Option("--max-rows", min=20, help="Most rows scored per "
                                          "side.")] = 5000,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads per "
                                                "reference fit.")] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Membership-inference audit: can an attacker tell MODEL's training rows from others?"""
    from lathe import api

    report = api.privacy_audit(model, members, non_members, shadows=shadows,
                               max_rows=max_rows, seed=seed, threads=threads,
                               encoding=encoding)
    if as_json:
        emit_json(report)
        return
    out = console()
    for name, a in report["attacks"].items():
        out.print(f"{name:<15} AUC {a['auc']:.3f} [{a['auc_ci'][0]:.3f}, {a['auc_ci'][1]:.3f}]"
                  f"  TPR@1%FPR {a['tpr_at_1pct_fpr']:.3f}  advantage {a['advantage']:.3f}")
    if report["privacy"]:
        p = report["privacy"]
        out.print(f"trained with epsilon {p['epsilon']:.3g}: an attack's advantage is at most "
                  f"{p['advantage_max']:.3f}")
    out.print(("[bold red]" if report["leak_detected"] else "[green]") + report["verdict"]
              + "[/]")


@app.command("stats")
def stats(
    data: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or Parquet file.")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="Privacy budget this call "
                                           "spends, split evenly over its queries.")],
    count: Annotated[bool, typer.Option("--count", help="Noisy row count.")] = False,
    mean: Annotated[list[str] | None, typer.Option("--mean", help="Noisy mean of COL.")] = None,
    sum_: Annotated[list[str] | None, typer.Option("--sum", help="Noisy sum of COL.")] = None,
    histogram: Annotated[list[str] | None, typer.Option(
        "--histogram", help="Noisy histogram of COL (10 bins, or the categories whose noisy "
        "count clears a threshold).")] = None,
    bounds: Annotated[list[str] | None, typer.Option(
        "--bounds", help="COL=LO:HI public bounds to clamp COL to (otherwise bought with a "
        "fifth of the query's epsilon).")] = None,
    mechanism: Annotated[str, typer.Option("--mechanism", help="laplace or gaussian "
                                           "(analytic calibration).")] = "laplace",
    delta: Annotated[float, typer.Option("--delta", help="delta for gaussian and for "
                                         "categorical histograms.")] = 1e-6,
    budget: Annotated[float, typer.Option("--budget", help="Total epsilon this dataset may "
                                          "ever spend (kept in the ledger).")] = 3.0,
    ledger: Annotated[Path | None, typer.Option(
        "--ledger", help="Budget ledger (default .lathe/privacy_budget.json).")] = None,
    encoding: EncodingOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Differentially private counts, sums, means and histograms; refused once the
    dataset's budget would be overspent."""
    from lathe import api

    result = api.privacy_stats(
        data, epsilon=epsilon, delta=delta, mechanism=mechanism, count=count,
        sums=_split(sum_), means=_split(mean), histograms=_split(histogram),
        bounds=api.parse_bounds(bounds), budget=budget, ledger=ledger, encoding=encoding)
    if as_json:
        emit_json(result)
        return
    out = console()
    for kind, value in result["results"].items():
        if kind == "count":
            out.print(f"count  {value['value']:,.1f}")
            continue
        for col, info in value.items():
            shown = (f"{info['value']:,.4g}" if "value" in info
                     else json.dumps(info["counts"], default=float)[:200])
            out.print(f"{kind:<6} {col}: {shown}")
    spent = result["budget"]
    out.print(f"[dim]{result['mechanism']}, epsilon {result['epsilon']:g} spent; "
              f"{spent['remaining']:g} of {spent['total']:g} left for this dataset[/]")


def print_pii(report: dict[str, Any]) -> None:
    """The `check --pii` section for humans."""
    from rich.table import Table

    out = console()
    if not report["columns"]:
        out.print(f"[green]no PII found[/] in {report['rows']:,} rows")
        return
    table = Table(title=f"PII in {report['rows']:,} rows")
    for name in ("column", "rows", "types", "example (masked)"):
        table.add_column(name)
    for col, info in report["columns"].items():
        types = ", ".join(f"{k} {v:,}" for k, v in info["types"].items())
        table.add_row(col, f"{info['rows_with_pii']:,} ({info['share']:.1%})", types,
                      (info["examples"] or [""])[0])
    out.print(table)
