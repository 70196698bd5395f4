"""The experiment report: one self-contained HTML page (embedded CSS, base64 PNG plots).

It opens with the decision sentence, then the sample-ratio check, the guardrails (for a
served experiment), and for every metric a table of variants and comparisons and a plot of
the difference over time: the fixed-horizon interval, the always-valid confidence sequence
(the sequential boundary) and zero. Plots use `matplotlib.figure.Figure` with the Agg canvas
(no pyplot state), as the evaluation report does; every user string is escaped.

>>> page = render_report({"srm": {"p_value": 0.5, "mismatch": False, "counts": {"a": 5}},
...     "metrics": {}, "decision": {"sentence": "Keep running."}}, source="ab.csv")
>>> "Keep running." in page and page.startswith("<!doctype html>")
True
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lathe.errors import UsageError

__all__ = ["render_report", "write_report"]

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;
text-align:right}th:first-child,td:first-child{text-align:left}.decision{font-size:1.15em;
padding:.7em 1em;background:#f3f6fa;border-left:4px solid #3a6ea5}.bad{color:#b00020}
.ok{color:#1b7a2f}img{max-width:100%}figcaption{color:#666;font-size:.9em}"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _f(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if value == value else "n/a"
    if isinstance(value, list) and len(value) == 2:
        return f"[{_f(value[0])}, {_f(value[1])}]"
    return _e(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_f(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _embed(fig: Any, alt: str, caption: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _over_time(metric: str, variant: str, looks: list[dict[str, Any]]) -> str:
    from matplotlib.figure import Figure

    if not looks:
        return ""
    fig = Figure(figsize=(8, 3.4))
    ax = fig.add_subplot()
    n = [h["n"] for h in looks]
    ax.fill_between(n, [h["ci"][0] for h in looks], [h["ci"][1] for h in looks],
                    color="#3a6ea5", alpha=0.18, label="always-valid sequence (mSPRT)")
    ax.plot(n, [h["fixed_ci"][0] for h in looks], "--", color="#888", lw=1,
            label="fixed-horizon 95 % interval")
    ax.plot(n, [h["fixed_ci"][1] for h in looks], "--", color="#888", lw=1)
    ax.plot(n, [h["difference"] for h in looks], color="#3a6ea5", lw=2, label="difference")
    ax.axhline(0, color="#b00020", lw=1)
    ax.set_xlabel("units so far (arrival order)")
    ax.set_ylabel(f"{metric[:30]}: {variant[:20]} - control".replace("$", r"\$"))
    ax.legend(loc="best", fontsize=8)
    return _embed(fig, f"{metric} difference over time",
                  f"{metric}, {variant} minus control, with the sequential boundary: the "
                  "effect is significant at a look where the shaded band excludes 0.")


def _srm_plot(counts: dict[str, int], expected: dict[str, float]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.6))
    ax = fig.add_subplot()
    names = list(counts)
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [counts[k] for k in names], 0.4, label="observed")
    ax.bar([x + 0.2 for x in xs], [expected.get(k, 0) for k in names], 0.4, label="planned")
    ax.set_xticks(list(xs), [k[:16].replace("$", r"\$") for k in names])
    ax.legend(fontsize=8)
    return _embed(fig, "units per variant", "units per variant: observed and planned")


def render_report(result: dict[str, Any], *, source: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    srm = result["srm"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Experiment: "
             f"{_e(source)}</title><style>{CSS}</style></head><body>",
             f"<h1>Experiment: {_e(source)}</h1><p>{_e(stamp)}</p>",
             f"<p class='decision'>{_e(result['decision']['sentence'])}</p>",
             "<h2>Sample ratio</h2>"]
    status = ("<span class='bad'>mismatch</span>" if srm["mismatch"]
              else "<span class='ok'>no mismatch</span>")
    parts.append(f"<p>chi-squared p = {_f(srm['p_value'])}: {status} "
                 "(flagged below 0.001)</p>")
    if srm.get("counts"):
        parts.append(_table(["variant", "units", "planned"],
                            [[k, v, srm.get("expected", {}).get(k, float("nan"))]
                             for k, v in srm["counts"].items()]))
        parts.append(_srm_plot(srm["counts"], srm.get("expected", {})))
    if result.get("guardrails"):
        parts.append("<h2>Guardrails</h2>")
        parts.append(_table(["guardrail", "value", "limit", "breached"],
                            [[g["name"], g.get("value"), g.get("limit"), g.get("breached")]
                             for g in result["guardrails"]]))
    for metric, block in result["metrics"].items():
        parts.append(f"<h2>{_e(metric)} ({_e(block['kind'])})</h2>")
        parts.append(_table(["variant", "n", "mean", "95 % CI"],
                            [[v, s["n"], s["mean"], s["ci"]]
                             for v, s in block["variants"].items()]))
        rows = [[v, c["test"], c["difference"], c["ci"], c["lift"], c["p_value"],
                 c["p_adjusted"], c["sequential"]["p_value"]]
                for v, c in block["comparisons"].items()]
        parts.append(_table(["vs control", "test", "difference", "95 % CI", "lift", "p",
                             "p (Holm)", "p (always valid)"], rows))
        if "cuped" in block:
            parts.append(f"<p>CUPED: theta {_f(block['cuped']['theta'])}, variance reduced by "
                         f"{block['cuped']['variance_reduction'] * 100:.1f} %</p>")
        for v, c in block["comparisons"].items():
            parts.append(_over_time(metric, v, c["sequential"].get("looks", [])))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: Path, result: dict[str, Any], *, source: str) -> Path:
    """Render and write atomically (lathe.atomic: whole or not at all, 0644 under umask 022)."""
    from lathe.atomic import write_text_atomic

    target = Path(path)
    if target.is_dir():
        raise UsageError(f"report path {target} is a directory",
                         hint="pass a file name such as ab.html")
    return write_text_atomic(target, render_report(result, source=source))
