"""The evaluation report: one self-contained HTML file (embedded CSS, plots as base64 PNG).

`render_report` builds the page from a model, encoded labels and raw predictions;
`write_report` writes it atomically. Plots use `matplotlib.figure.Figure` with the Agg
canvas directly (evaluation/plots.py) — never pyplot — so rendering keeps no global state and is
safe in threads.
Every string that comes from users (class names, column names, paths, lineage) is escaped.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("adult.csv", target="income")  # doctest: +SKIP
>>> model.evaluate("holdout.csv", report="report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lathe.atomic import write_text_atomic
from lathe.errors import UsageError
from lathe.evaluation.plots import (
    class_labels,
    classification_plots,
    regression_plots,
    training_plots,
)

__all__ = ["write_report", "render_report", "ReportedModel"]

NESTED_METRICS = ("confusion_matrix", "per_class", "calibration", "task", "primary_metric")


class ReportedModel(Protocol):
    """What the report reads of a model: a `lathe.model.Model` fits (evaluation sits
    below the loaded model in the layers, so it names the shape, not the class)."""

    family: Any
    schema: Any
    manifest: dict[str, Any]
    path: Path | None

    @property
    def task(self) -> str: ...

    @property
    def classes(self) -> list[Any] | None: ...


def write_report(path: Path, *, model: ReportedModel, y_true: np.ndarray, raw: np.ndarray,
                 metrics: dict[str, Any], source: str) -> Path:
    """Render the report and write it to `path` via a temp file + rename (never half-written)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"report path {target} is a directory",
                         hint="pass a file name such as report.html")
    page = render_report(model=model, y_true=y_true, raw=raw, metrics=metrics, source=source)
    return write_text_atomic(target, page, what="the report",
                             hint="choose a writable location for --report")


def render_report(*, model: ReportedModel, y_true: np.ndarray, raw: np.ndarray,
                  metrics: dict[str, Any], source: str, now: datetime | None = None) -> str:
    """The whole HTML page as a string."""
    y = np.asarray(y_true)
    predictions = np.asarray(raw, dtype=float)
    if predictions.shape[0] != y.shape[0]:
        raise UsageError(f"report: {y.shape[0]} labels but {predictions.shape[0]} predictions",
                         hint="pass the predictions made for exactly the labelled rows")
    schema = model.schema
    title = f"Evaluation report: {model.family.name} {model.task} model of {schema.target}"
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    facts = [("source", source), ("generated", stamp), ("model", model.path or "(not saved)"),
             ("family", model.family.name), ("task", model.task), ("target", schema.target),
             ("rows evaluated", _format_value("n_rows", metrics.get("n_rows", len(y))))]
    sections: list[tuple[str, str, str]] = [("summary", "Summary metrics", _summary(metrics))]
    if model.task == "regression":
        sections.append(("plots", "Predictions", regression_plots(y.astype(float), predictions.ravel())))
    else:
        labels = class_labels(model.classes, predictions.shape[1])
        if metrics.get("per_class"):
            sections.append(("classes", "Per class", _per_class(metrics["per_class"])))
        pos = schema.positive_index
        sections.append(("plots", "Plots", classification_plots(
            y.astype(int), predictions, labels, 1 if pos is None else pos)))
    sections.append(("training", "Training", training_plots(model)))
    sections.append(("schema", "Schema", _schema(schema)))
    provenance = _provenance(model.manifest)
    if provenance:
        sections.append(("lineage", "Lineage", provenance))
    nav = " · ".join(f'<a href="#{key}">{_e(name)}</a>' for key, name, _ in sections)
    body = "\n".join(f'<section id="{key}"><h2>{_e(name)}</h2>\n{content}</section>'
                     for key, name, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n{_key_values(facts, css='facts')}\n<nav>{nav}</nav>\n"
            f"{body}\n</body></html>\n")


# ---- tables --------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _format_value(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if key == "model_size_bytes" and isinstance(value, (int, float)):
        size, unit = float(value), "B"
        for unit in ("B", "KB", "MB", "GB"):
            if size < 1024 or unit == "GB":
                break
            size /= 1024
        return f"{size:,.1f} {unit}" if unit != "B" else f"{int(size)} B"
    if key == "rows_per_second" and isinstance(value, (int, float)):
        return f"{value:,.0f} rows/s"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:,.1f}"
    return str(value)


def _key_values(rows: Iterable[tuple[Any, Any]], css: str = "kv") -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css}">{cells}</table>'


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll {css}"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _summary(metrics: dict[str, Any]) -> str:
    primary = metrics.get("primary_metric")
    scalars = [(k, v) for k, v in metrics.items() if k not in NESTED_METRICS
               and (v is None or isinstance(v, (int, float, str)))]
    calibration = metrics.get("calibration")
    if isinstance(calibration, dict) and "ece" in calibration:
        scalars.append(("ece", calibration["ece"]))
    # the primary metric first: it is the one promotion gates and tuning optimise
    scalars.sort(key=lambda kv: kv[0] != primary)
    highlight = ' class="primary"'
    rows = "".join(
        f"<tr{highlight if k == primary else ''}><th>{_e(k)}</th>"
        f"<td>{_e(_format_value(k, v))}</td></tr>" for k, v in scalars)
    note = f"<p>Primary metric: <b>{_e(primary)}</b>.</p>" if primary else ""
    if metrics.get("positive_class") is not None:
        note += (f"<p>precision, recall and f1 are those of the positive class "
                 f"<b>{_e(metrics['positive_class'])}</b>; the _macro and _weighted ones "
                 "average over both classes.</p>")
    return f'{note}<table class="kv">{rows}</table>'


def _per_class(per_class: list[dict[str, Any]]) -> str:
    rows = [(r.get("class"), _format_value("support", r.get("support")),
             *(_format_value(m, r.get(m)) for m in ("precision", "recall", "f1")))
            for r in per_class]
    return _table(["class", "support", "precision", "recall", "f1"], rows, css="tall")


def _schema(schema: Any) -> str:
    parts = [_key_values([("target", schema.target), ("task", schema.task),
                          ("classes", len(schema.classes or []) or "—"),
                          ("feature columns", len(schema.columns))])]
    rows = []
    for col in schema.columns:
        detail = f"{len(col.categories)} categories" if col.categories else ""
        if col.language:
            detail = f"language {col.language}"
        rows.append((col.name, col.kind, col.dtype, f"{100 * col.missing_fraction:.1f}%", detail))
    parts.append(_table(["column", "kind", "dtype", "missing", "detail"], rows, css="tall"))
    if schema.dropped:
        parts.append("<h3>Dropped columns</h3>")
        parts.append(_table(["column", "reason"], schema.dropped.items()))
    if schema.notes:
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in schema.notes)
                     + "</ul>")
    return "\n".join(parts)


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value) or "—"
    return "—" if value is None else str(value)


def _provenance(manifest: dict[str, Any]) -> str:
    parts = []
    for key, heading in (("lineage", "Data and parents"), ("training", "Training run"),
                         ("privacy", "Differential privacy (what training spent)")):
        block = manifest.get(key)
        if isinstance(block, dict) and block:
            parts.append(f"<h3>{heading}</h3>" + _key_values((k, _flat(v)) for k, v in block.items()))
    params = (manifest.get("model") or {}).get("params")
    if isinstance(params, dict) and params:
        parts.append("<h3>Model parameters</h3>"
                     + _key_values((k, _flat(v)) for k, v in sorted(params.items())))
    return "\n".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.5rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
nav{margin:1rem 0;font-size:.95rem}a{color:#0b62a4}
table{border-collapse:collapse;font-size:.9rem;margin:.4rem 0}
th,td{border:1px solid #e2e2e2;padding:.25rem .6rem;text-align:left;vertical-align:top}
thead th{background:#f4f6f8;position:sticky;top:0}
td{font-variant-numeric:tabular-nums;word-break:break-word}
table.kv th{background:#fafafa;font-weight:600}
table.facts th{border:none;color:#666;font-weight:normal;padding-left:0}
table.facts td{border:none}
tr.primary th,tr.primary td{background:#eef6ee;font-weight:700}
.scroll{overflow:auto}.scroll.tall{max-height:28rem}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.stack{display:block}
figure{margin:.5rem 0;max-width:100%}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:.85rem;color:#555;max-width:40rem}
.note{color:#666;font-style:italic}
"""
