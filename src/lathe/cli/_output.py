"""What every command prints: one JSON writer for `--json`, a stderr console for humans.

`--json` prints exactly one JSON object on stdout (a result, or `{"error": {...}}`); tables,
progress and notes go to stderr. Only stdlib at top level: rich and numpy load when used.

>>> import io, contextlib
>>> buffer = io.StringIO()
>>> with contextlib.redirect_stdout(buffer):
...     emit_json({"rows": 3, "ratio": float("nan")})
>>> buffer.getvalue()
'{"rows": 3, "ratio": null}\\n'
>>> fmt(0.91234), fmt(None), fmt(123456.0)
('0.9123', '—', '123,456')
"""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any

import typer

__all__ = [
    "JsonFlag",
    "EncodingOption",
    "emit_json",
    "error_payload",
    "console",
    "fmt",
    "metrics_table",
    "scalars",
    "warn_training_overlap",
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding", help="Text encoding of DATA (default UTF-8), e.g. latin-1, gb18030."
    ),
]


def _default(value: Any) -> Any:
    """numpy scalars as Python numbers, arrays as lists, paths and the rest as strings."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def emit_json(payload: dict[str, Any]) -> None:
    """Write `payload` as the one JSON object of this run on stdout."""
    text = json.dumps(_finite(payload), default=_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def error_payload(kind: str, *, message: str, exit_code: int, **extra: Any) -> dict[str, Any]:
    """The `{"error": {...}}` object a `--json` run prints when it fails.

    >>> error_payload("UsageError", message="no such option --nosuch", exit_code=2)
    {'error': {'type': 'UsageError', 'message': 'no such option --nosuch', 'exit_code': 2}}
    """
    body: dict[str, Any] = {"type": kind, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    body["exit_code"] = exit_code
    return {"error": body}


def console() -> Any:
    """A rich console on stderr (human output never mixes with `--json` on stdout)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return "—" if value is None else str(value)


def scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numeric entries of a metrics dict (no matrices or tables)."""
    return {
        k: v
        for k, v in metrics.items()
        if isinstance(v, (int, float)) or v is None
    }


def metrics_table(metrics: dict[str, Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in scalars(metrics).items():
        table.add_row(key, fmt(value))
    if metrics.get("positive_class") is not None:
        table.caption = f"precision, recall, f1: positive class {metrics['positive_class']!r}"
    return table


def warn_training_overlap(overlap: dict[str, Any] | None, what: str = "these metrics",
                          hint: str = "") -> None:
    """One stderr warning when rows just measured include rows the model trained on."""
    from lathe.data.overlap import overlap_warning

    line = overlap_warning(overlap, what)
    if line:
        console().print(f"[yellow]warning:[/] {line}{hint}", highlight=False)
