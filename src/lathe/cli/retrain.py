"""`lathe retrain NAME --data FILE`: a challenger with the champion's config, registered with
its parent and promoted only through the registry's gate (or moved to `--alias`).

Exits 0 whether or not the gate promotes it (`promoted` in the JSON says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, console, emit_json

__all__ = ["retrain"]


def retrain(
    name: Annotated[str, typer.Argument(help="The registered model name (its champion is "
                                        "the parent).")],
    data: Annotated[str, typer.Option("--data", help="Recent labelled rows in time order "
                                      "(the last 20 % compare champion and challenger, the "
                                      "rest train it), or log:URL: the champion's training "
                                      "data plus the log's labelled rows of --window.")],
    window: Annotated[str | None, typer.Option(
        "--window", help="The most recent part to use: on log:URL a span such as 30d, on a "
        "file a number of rows (its last N).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="log:URL only: first prediction time (ISO, UTC).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="log:URL only: prediction time to stop before.")] = None,
    base: Annotated[str | None, typer.Option(
        "--base", help="log:URL only: the champion's training data (default: the file its "
        "lineage names), or none to train on the log's labelled rows alone.")] = None,
    alias: Annotated[str | None, typer.Option(
        "--alias", help="Move this alias (e.g. challenger) to the new version instead of "
        "gating it for champion.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to keep the challenger's "
                                             "artifact (default: a temporary directory).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Registry note.")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", envvar="LATHE_STORE", help="Registry URL (default sqlite:///.lathe/lathe.db)."
    )] = None,
    as_json: JsonFlag = False,
) -> None:
    """Retrain NAME's champion config on recent data; register the challenger; gate it."""
    from lathe.api import retrain as run_retrain

    result = run_retrain(name, data, alias=alias, out=out, store=store, note=note,
                         window=window, since=since, until=until, base=base)
    if as_json:
        emit_json(result)
        return
    out_console = console()
    out_console.print(
        f"{result['challenger']} (parent {result['parent']}): {result['metric']} "
        f"{result['challenger_score']} vs champion {result['champion_score']} on the "
        f"{result['holdout_rows']} most recent labelled rows")
    if result["promoted"]:
        out_console.print(f"promoted to champion: {result['challenger']}")
    elif result.get("alias_moved") is not None:
        out_console.print(f"{name}@{result['alias']} -> {result['challenger']}")
    else:
        out_console.print(f"not promoted: {result.get('gate_refused', 'the gate kept the champion')}")
