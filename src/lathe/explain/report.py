"""The explanation report: one self-contained HTML page (inline CSS, base64 PNG plots made
with `matplotlib.figure.Figure` on the Agg canvas, never pyplot's global state).

Sections: global importance (permutation drop and mean |contribution|), a contribution
summary (one dot per row and feature, coloured by the feature's value), and local
explanations of the first rows (their largest contributions as bars).

>>> import lathe  # doctest: +SKIP
>>> write_explain_report("explain.html", lathe.load("models/adult"), frame, rows=5)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lathe.atomic import write_text_atomic
from lathe.errors import UsageError
from lathe.explain.contributions import explain_rows, global_importance

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_explain_report", "render_explain_report"]

TOP_FEATURES = 15
LOCAL_TOP = 10
SUMMARY_ROWS = 300
CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.5em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;border-bottom:1px solid #eee;
text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.note{color:#666;font-size:.9em}figure{margin:1em 0}"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _label(text: Any, limit: int = 28) -> str:
    label = str(text)
    label = label if len(label) <= limit else label[: limit - 1] + "…"
    return label.replace("$", r"\$")  # `$...$` would switch matplotlib into maths mode


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _embed(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></figure>'


def _importance_plot(table: pd.DataFrame) -> str:
    top = table.head(TOP_FEATURES).iloc[::-1]
    columns = [c for c in ("permutation_mean", "mean_abs_contribution") if top[c].notna().any()]
    fig = _figure(5.0 * len(columns), 0.3 * len(top) + 1.2)
    for i, column in enumerate(columns):
        ax = fig.add_subplot(1, len(columns), i + 1)
        ax.barh([_label(n) for n in top.index], top[column].fillna(0.0), color="#4a7ab5")
        ax.set_title("permutation importance" if column == "permutation_mean"
                     else "mean |contribution|")
    return _embed(fig, "global feature importance")


def _summary_plot(contrib: pd.DataFrame, X: pd.DataFrame, order: list[str]) -> str:
    """Beeswarm-like: contributions per feature, dots coloured by the feature value's rank."""
    features = order[:TOP_FEATURES][::-1]
    fig = _figure(7.5, 0.35 * len(features) + 1.2)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for y, name in enumerate(features):
        values = contrib[name].to_numpy()
        raw = X[name] if name in X.columns else pd.Series(np.nan, index=X.index)
        colour = (pd.Series(np.asarray(raw, dtype=object) if raw.dtype == object else raw)
                  .rank(pct=True).fillna(0.5).to_numpy()
                  if pd.api.types.is_numeric_dtype(raw) else np.full(len(values), 0.5))
        ax.scatter(values, y + rng.uniform(-0.25, 0.25, len(values)), c=colour, cmap="coolwarm",
                   s=8, vmin=0, vmax=1)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_yticks(range(len(features)), [_label(n) for n in features])
    ax.set_xlabel(f"contribution ({contrib.attrs.get('units', '')}); colour: low → high value")
    return _embed(fig, "contribution summary")


def _local_plot(contrib: pd.Series, title: str) -> str:
    top = contrib.reindex(contrib.abs().sort_values(ascending=False).index).head(LOCAL_TOP)[::-1]
    fig = _figure(6.0, 0.3 * len(top) + 1.0)
    ax = fig.add_subplot()
    ax.barh([_label(n) for n in top.index], top.to_numpy(),
            color=["#c44" if v > 0 else "#48b" for v in top.to_numpy()])
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_title(_label(title, 70))
    return _embed(fig, title)


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in [frame.index.name or "", *frame.columns])
    body = "".join("<tr><td>" + _e(i) + "</td>" + "".join(
        f"<td>{v:.4f}</td>" if isinstance(v, float) else f"<td>{_e(v)}</td>" for v in row) + "</tr>"
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True))
    return f"<table><tr>{head}</tr>{body}</table>"


def render_explain_report(model: Any, frame: pd.DataFrame, *, rows: int = 5, seed: int = 0,
                          now: datetime | None = None) -> str:
    sample = frame.iloc[:SUMMARY_ROWS]
    contrib = explain_rows(model, sample, n_permutations=8, seed=seed)
    importance = global_importance(model, frame, seed=seed, contributions=contrib)
    X, _ = model.schema.conform(sample, source="explained rows")
    order = list(contrib.abs().mean().sort_values(ascending=False).index)
    sections = [
        ("Global importance", _importance_plot(importance) + _table(importance.head(TOP_FEATURES))),
        ("Contribution summary", _summary_plot(contrib, X, order)
         + f'<p class="note">{_e(len(sample))} rows; method {_e(contrib.attrs["method"])}; '
           f'units: {_e(contrib.attrs["units"])}.</p>'),
    ]
    local = []
    for i in range(min(rows, len(sample))):
        label = contrib.attrs["explained_class"][i] if contrib.attrs["explained_class"] else None
        base = contrib.attrs["base_value"][i]
        title = (f"row {sample.index[i]}" + (f": class {label}" if label is not None else "")
                 + f" (base {base:.3f}, output {base + contrib.iloc[i].sum():.3f})")
        local.append(f"<h3>{_e(title)}</h3>" + _local_plot(contrib.iloc[i], title))
    sections.append(("Local explanations", "\n".join(local)))
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = f"Explanation: {model.family.name} {model.task} model of {model.schema.target}"
    body = "\n".join(f"<section><h2>{_e(name)}</h2>\n{content}</section>"
                     for name, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{_e(title)}</h1><p class=\"note\">model {_e(model.path or '(not saved)')}, "
            f"{_e(len(frame))} rows, generated {_e(stamp)}</p>\n{body}\n</body></html>\n")


def write_explain_report(path: str | os.PathLike[str], model: Any, frame: pd.DataFrame, *,
                         rows: int = 5, seed: int = 0) -> Path:
    """Render and write atomically (temp file + rename)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"report path {target} is a directory", hint="pass e.g. explain.html")
    page = render_explain_report(model, frame, rows=rows, seed=seed)
    return write_text_atomic(target, page, what="the report",
                             hint="choose a writable location for --report")
