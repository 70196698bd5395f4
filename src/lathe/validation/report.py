"""The validation report: one self-contained HTML page (plots embedded as PNG).

Sections follow the result of a suite: the verdict and every check, worst slices, slice
accuracy with 95 % intervals, fairness group rates, robustness drops and flip rates,
behaviour tests, over-fitting. Plots use matplotlib's Agg canvas (no pyplot state).

>>> page = render_validation_report({"suite": "default", "data": "d.csv", "model": "m",
...     "n_rows": 3, "passed": True, "failed": [], "checks": [], "seconds": 0.1})
>>> "<h1>" in page and "passed" in page
True
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

__all__ = ["render_validation_report", "write_validation_report"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left}th{background:#f4f4f4}.pass{color:#17803d}.fail{color:#c0262d;font-weight:bold}
figure{margin:1em 0}img{max-width:100%}"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _e("—" if value is None else value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(draw: Any, width: float, height: float, alt: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></figure>'


def _slice_plot(column: str, values: dict[str, Any]) -> str:
    items = [(k, v) for k, v in values.items() if v.get("accuracy_ci")][:30]
    if not items:
        return ""

    def draw(ax: Any) -> None:
        names = [k[:30] for k, _ in items]
        acc = [v["accuracy"] for _, v in items]
        lo = [v["accuracy"] - v["accuracy_ci"][0] for _, v in items]
        hi = [v["accuracy_ci"][1] - v["accuracy"] for _, v in items]
        ax.errorbar(acc, range(len(items)), xerr=[lo, hi], fmt="o", capsize=3)
        ax.set_yticks(range(len(items)), names)
        ax.invert_yaxis()
        ax.set_xlabel("accuracy (95% Wilson interval)")
        ax.set_title(f"by {column}")

    return _figure(draw, 7, 0.35 * len(items) + 1.2, f"accuracy by {column}")


def _fairness_plot(column: str, result: dict[str, Any]) -> str:
    groups = list(result["groups"].items())[:20]

    def draw(ax: Any) -> None:
        import numpy as np

        x = np.arange(len(groups))
        for i, key in enumerate(("selection_rate", "tpr", "fpr")):
            ax.bar(x + (i - 1) * 0.27, [g[key] for _, g in groups], 0.27, label=key)
        ax.set_xticks(x, [k[:18] for k, _ in groups], rotation=30, ha="right")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # off the bars
        ax.set_title(f"{column}: DP diff {result['demographic_parity_difference']:.3f}, "
                     f"EO diff {result['equalized_odds_difference']:.3f}")

    return _figure(draw, 7, 3.2, f"group rates by {column}")


def _robustness_plot(results: dict[str, Any]) -> str:
    rows = [(k, v) for k, v in results.items() if "flip_rate" in v]
    if not rows:
        return ""

    def draw(ax: Any) -> None:
        ax.barh([k for k, _ in rows], [v["flip_rate"] for _, v in rows], label="flip rate")
        ax.barh([k for k, _ in rows], [max(v.get("accuracy_drop", 0.0), 0.0) for _, v in rows],
                alpha=0.7, label="accuracy drop")
        ax.invert_yaxis()
        ax.legend()
        ax.set_xlabel("share of rows")

    return _figure(draw, 7, 0.4 * len(rows) + 1.2, "robustness")


def _curve_plot(curve: dict[str, Any]) -> str:
    points = curve["points"]

    def draw(ax: Any) -> None:
        rows = [p["rows"] for p in points]
        ax.plot(rows, [p["train"] for p in points], marker="o", label="training rows")
        ax.plot(rows, [p["held_out"] for p in points], marker="o", label="held-out DATA")
        ax.set_xlabel("training rows")
        ax.set_ylabel(curve["metric"])
        ax.legend()

    return _figure(draw, 6, 3.5, "learning curve")


def _checks(result: dict[str, Any]) -> str:
    rows = [[_e(c["name"]), _num(c.get("value")), _num(c.get("threshold")),
             '<span class="pass">pass</span>' if c["passed"] else '<span class="fail">FAIL</span>',
             _e(c.get("message", ""))] for c in result["checks"]]
    return _table(["check", "value", "threshold", "", "detail"], rows)


def render_validation_report(result: dict[str, Any]) -> str:
    verdict = ('<span class="pass">passed</span>' if result["passed"] else
               f'<span class="fail">failed</span>: {_e(", ".join(result["failed"]))}')
    parts = [f"<h1>Validation: {_e(result['suite'])} suite</h1>",
             f"<p>{_e(result.get('model'))} on {_e(result.get('data'))}, "
             f"{result['n_rows']:,} labelled rows, {result['seconds']:.1f} s: {verdict}</p>",
             "<h2>Checks</h2>", _checks(result)]
    metrics = result.get("metrics") or {}
    if metrics:
        parts += ["<h2>Metrics</h2>", _table(["metric", "value"],
                                             [[_e(k), _num(v)] for k, v in metrics.items()])]
    worst = (result.get("worst_slices") or {}).get("slices") or []
    if result.get("worst_slices"):
        info = result["worst_slices"]
        parts.append(f"<h2>Worst slices</h2><p>{info['tested']} slices tested against the "
                     f"rest, Benjamini-Hochberg at {info['alpha']}; {len(worst)} found.</p>")
        parts.append(_table(["slice", "n", "accuracy", "error above rest", "adjusted p"], [
            [_e(", ".join(f"{k}={v}" for k, v in w["slice"].items())), w["n"],
             _num(w.get("accuracy", w.get("mae"))), _num(w["error_above_rest"]),
             _num(w["p_adjusted"])] for w in worst[:25]]))
    sections = dict(result.get("slices") or {})
    if result.get("by_language"):
        sections["language"] = result["by_language"]
    if sections:
        parts.append("<h2>Slices</h2>")
        parts += [_slice_plot(column, values) for column, values in sections.items()]
    for column, fair in (result.get("fairness") or {}).items():
        parts.append(f"<h2>Fairness: {_e(column)}</h2>")
        parts.append(_table(["group", "n", "selection rate", "TPR", "FPR", "accuracy"], [
            [_e(g), v["n"], _num(v["selection_rate"]), _num(v["tpr"]), _num(v["fpr"]),
             _num(v["accuracy"])] for g, v in fair["groups"].items()]))
        parts.append(_fairness_plot(column, fair))
    for column, fix in (result.get("mitigation") or {}).items():
        parts += [f"<h2>Mitigation: {_e(column)} ({_e(fix['constraint'])})</h2>",
                  f"<p>{_e(fix['method'])}, cross-fitted on two halves of "
                  f"{fix['evaluated_on']:,} rows; accuracy cost {fix['accuracy_cost']:.4f}.</p>",
                  _table(["", *fix["before"]], [
                      ["before", *(_num(v) for v in fix["before"].values())],
                      ["after", *(_num(v) for v in fix["after"].values())]])]
    if result.get("robustness"):
        parts += ["<h2>Robustness</h2>", _robustness_plot(result["robustness"])]
    if result.get("behaviour"):
        parts += ["<h2>Behaviour tests</h2>", _table(["test", "kind", "rows", "failed"], [
            [_e(b["name"]), _e(b["kind"]), b["n"], b["failed"]] for b in result["behaviour"]])]
    if result.get("overfitting"):
        over = result["overfitting"]
        rows = [[_e(k), _num(v)] for k, v in (over.get("gaps") or {}).items()]
        parts += ["<h2>Over-fitting</h2>", _table(["metric", "train − held-out"], rows)
                  if rows else f"<p>{_e(over.get('skipped', ''))}</p>"]
    if result.get("learning_curve"):
        parts += ["<h2>Learning curve</h2>", _curve_plot(result["learning_curve"])]
    body = "\n".join(p for p in parts if p)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>lathe validate</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")


def write_validation_report(path: Path, result: dict[str, Any]) -> None:
    from lathe.atomic import write_text_atomic

    write_text_atomic(path, render_validation_report(result))
