"""Self-contained HTML for `monitor drift --report` and `monitor performance --report`:
the verdict first, then per column the two distributions overlaid with the test, its score
and threshold; performance over windows as lines with their interval bands, estimated and
realised on one plot. Plots are base64 PNGs drawn with matplotlib's Agg canvas (no pyplot),
as the evaluation report does; every user string is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from lathe.atomic import write_text_atomic
from lathe.monitoring.drift import Sample

__all__ = ["write_drift_report", "write_performance_report", "render_page"]

MAX_PLOTTED_COLUMNS = 60
TOP_CATEGORIES = 15
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.verdict{font-size:1.3rem;padding:.6rem 1rem;border-radius:6px;display:inline-block}
.bad{background:#fde2e1;color:#8a1c14}.good{background:#e3f4e4;color:#1d5e24}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
figure{margin:0}img{max-width:100%}figcaption{font-size:12px;color:#555}"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=90, layout="constrained")


def _embed(fig: Any, alt: str, caption: str = "") -> str:
    from lathe.evaluation.plots import _embed as embed

    return embed(fig, alt, caption)


def _label(text: Any) -> str:
    from lathe.evaluation.plots import _plot_label

    return _plot_label(text)


def render_page(title: str, verdict: str, bad: bool, sections: list[tuple[str, str]]) -> str:
    body = "\n".join(f"<section><h2>{_e(name)}</h2>\n{content}</section>"
                     for name, content in sections)
    css = "bad" if bad else "good"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
            f'<h1>{_e(title)}</h1>\n<p class="verdict {css}">{_e(verdict)}</p>\n{body}\n'
            "</body></html>\n")


# ---- drift ---------------------------------------------------------------------------------
def _column_plot(name: str, col: dict[str, Any], ref: Sample, cur: Sample) -> str:
    fig = _figure(3.6, 2.4)
    ax = fig.add_subplot()
    if ref.kind == "numeric" and cur.kind == "numeric" and ref.values is not None:
        both = np.concatenate([ref.values, cur.values])
        edges = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        ax.hist(ref.values, bins=edges, density=True, alpha=0.5, label="reference")
        ax.hist(cur.values, bins=edges, density=True, alpha=0.5, label="current")
    else:
        from lathe.monitoring.drift import aligned_counts

        keys, rc, cc = aligned_counts(ref, cur)
        order = np.argsort(-(rc / max(rc.sum(), 1) + cc / max(cc.sum(), 1)))[:TOP_CATEGORIES]
        x = np.arange(len(order))
        ax.bar(x - 0.2, rc[order] / max(rc.sum(), 1), 0.4, label="reference")
        ax.bar(x + 0.2, cc[order] / max(cc.sum(), 1), 0.4, label="current")
        ax.set_xticks(x, [_label(keys[i]) for i in order], rotation=60, fontsize=7)
        ax.set_ylabel("share")
    ax.set_title(_label(name), fontsize=10)
    ax.legend(fontsize=7)
    caption = (f"{'DRIFT' if col['drifted'] else 'no drift'}: {col['test']} = "
               f"{col['statistic']:.4g} (threshold {col['threshold']:.4g})")
    return _embed(fig, f"{name}: reference and current distributions", caption)


def _drift_table(result: dict[str, Any]) -> str:
    rows = []
    for name, col in result["columns"].items():
        missing = col.get("missing_share", {})
        new = col.get("new_categories", {})
        rows.append(
            f"<tr><td>{_e(name)}</td><td>{_e(col.get('kind', ''))}</td><td>{_e(col['test'])}</td>"
            f"<td class=num>{col['statistic']:.4g}</td><td class=num>{col['threshold']:.4g}</td>"
            f"<td>{'DRIFT' if col['drifted'] else '-'}</td>"
            f"<td class=num>{missing.get('reference', 0):.1%} / {missing.get('current', 0):.1%}</td>"
            f"<td class=num>{new.get('count', '')}</td></tr>")
    return ("<table><tr><th>column</th><th>kind</th><th>test</th><th>score</th><th>threshold</th>"
            "<th>verdict</th><th>missing ref / cur</th><th>new categories</th></tr>"
            + "".join(rows) + "</table>")


def write_drift_report(path: Path, result: dict[str, Any], reference: Any, current: Any) -> Path:
    """The drift page: verdict, the table, one plot per tested column (re-read one by one)."""
    verdict = (f"{'Dataset drift' if result['dataset_drift'] else 'No dataset drift'}: "
               f"{result['n_drifted']} of {result['n_columns']} columns drifted (share "
               f"{result['share_drifted']:.2f}, threshold {result['drift_share']:.2f})")
    plots = []
    tested = [(n, c) for n, c in result["columns"].items()
              if c.get("kind") in ("numeric", "categorical") and c["test"] != "empty"]
    for name, col in tested[:MAX_PLOTTED_COLUMNS]:
        ref, _ = reference.sample(name, col["kind"])
        cur, _ = current.sample(name, col["kind"])
        plots.append(_column_plot(name, col, ref, cur))
    sections = [("Columns", _drift_table(result)),
                ("Distributions", f'<div class="cols">{"".join(plots)}</div>')]
    if result.get("prediction") and "skipped" not in result["prediction"]:
        sections.append(("Prediction drift", _drift_table({"columns": result["prediction"]})))
    sources = (f"<p>reference: {_e(result['reference']['source'])} "
               f"({result['reference']['rows']} rows); current: "
               f"{_e(result['current']['source'])} ({result['current']['rows']} rows)</p>")
    sections.insert(0, ("Data", sources))
    page = render_page("Data drift", verdict, result["dataset_drift"], sections)
    return write_text_atomic(path, page, what="the report", hint="choose a writable --report")


# ---- performance ---------------------------------------------------------------------------
def _metric_plot(windows: list[dict[str, Any]], metric: str) -> str:
    fig = _figure(8, 3)
    ax = fig.add_subplot()
    mid = np.array([(w["start"] + w["end"]) / 2 for w in windows], dtype=float)
    for key, label in ((metric, "realised"), (f"estimated_{metric}", "estimated (CBPE)")):
        vals = np.array([np.nan if w.get(key) is None else w[key] for w in windows], float)
        if np.all(np.isnan(vals)):
            continue
        lo = np.array([np.nan if not w.get(f"{key}_ci") else w[f"{key}_ci"][0] for w in windows])
        hi = np.array([np.nan if not w.get(f"{key}_ci") else w[f"{key}_ci"][1] for w in windows])
        line = ax.plot(mid, vals, marker="o", ms=3, label=label)[0]
        ax.fill_between(mid, lo.astype(float), hi.astype(float), alpha=0.2,
                        color=line.get_color())
    for w in windows:
        if w.get("alarm"):
            ax.axvline(w["alarm"], color="red", ls=":", lw=1)
    ax.set_xlabel("row")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    return _embed(fig, f"{metric} per window", f"{metric} per window with 95% intervals")


def write_performance_report(path: Path, result: dict[str, Any]) -> Path:
    windows = result["windows"]
    metric = "accuracy" if any("accuracy" in w for w in windows) else "rmse"
    change = result.get("change_points") or []
    verdict = (f"{len(windows)} windows of up to {result['window']} rows; "
               + (f"decay detected from row {change[0]['row']}" if change
                  else "no decay detected in the error stream"))
    plots = [_metric_plot(windows, metric)]
    for extra in ("f1", "roc_auc"):
        if any(w.get(extra) is not None or w.get(f"estimated_{extra}") is not None
               for w in windows):
            plots.append(_metric_plot(windows, extra))
    keys = [k for k in ("n", "n_labelled", metric, f"estimated_{metric}", "f1", "roc_auc")
            if any(k in w for w in windows)]
    rows = "".join("<tr><td>" + _e(f"{w['start']}-{w['end']}") + "</td>" + "".join(
        f"<td class=num>{'' if w.get(k) is None else format(w[k], '.4g')}</td>" for k in keys)
        + "</tr>" for w in windows)
    table = ("<table><tr><th>rows</th>" + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>"
             + rows + "</table>")
    page = render_page("Performance over windows", verdict, bool(change),
                       [("Over time", "".join(plots)), ("Windows", table)])
    return write_text_atomic(path, page, what="the report", hint="choose a writable --report")
