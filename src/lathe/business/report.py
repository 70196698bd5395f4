"""The decision report: one self-contained HTML page (the table, two Pareto plots as base64 PNG,
the sentence), written atomically.

>>> page = render_decision({"recommendation": "a", "reason": "run a", "primary_metric": "accuracy",
...     "candidates": [{"model": "a", "metrics": {"accuracy": 0.9}, "latency_ms": {"p50": 1.0,
...     "p95": 2.0, "p99": 3.0}, "cost_per_million": 0.01, "kwh_per_million": 0.1,
...     "co2_kg_per_million": 0.05, "cpu_seconds_per_row": 0.001, "pareto": True, "rank": 1}],
...     "prices": {"cpu_hour": 0.034}, "region": {"name": "France"}, "power": {"method": "m"}})
>>> "<table" in page and "data:image/png;base64" in page
True
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

__all__ = ["write_decision_report", "render_decision"]

_COLUMNS = [("rank", "rank", "{}"), ("model", "model", "{}"),
            ("quality", "{metric}", "{:.4f}"),
            ("p50", "p50 ms", "{:.2f}"), ("p95", "p95 ms", "{:.2f}"), ("p99", "p99 ms", "{:.2f}"),
            ("throughput_rows_per_second_batch64", "rows/s @64", "{:.0f}"),
            ("cpu_seconds_per_row", "CPU s/row", "{:.3g}"),
            ("cost_per_million", "$ / 1M", "{:.4g}"),
            ("kwh_per_million", "kWh / 1M", "{:.4g}"),
            ("co2_kg_per_million", "kg CO2 / 1M", "{:.4g}"),
            ("monthly_cost", "$ / month", "{:.4g}"), ("replicas", "replicas", "{}"),
            ("expected_value", "value / pred.", "{:.4g}"),
            ("training_cost", "training $", "{:.3g}"),
            ("peak_memory_mb", "memory MB", "{:.0f}"), ("size_bytes", "size MB", "{:.2f}"),
            ("pareto", "Pareto", "{}")]


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(c: dict[str, Any], key: str, fmt: str, metric: str) -> str:
    if key == "quality":
        value = c["metrics"].get(metric)
    elif key in ("p50", "p95", "p99"):
        value = c["latency_ms"][key]
    elif key == "size_bytes":
        value = None if c.get("size_bytes") is None else c["size_bytes"] / 2**20
    else:
        value = c.get(key)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else ""
    return _e(fmt.format(value))


def _plot(result: dict[str, Any], x_key: str, x_label: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metric = result["primary_metric"]
    cands = sorted(result["candidates"], key=lambda c: _x(c, x_key))
    fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    xs = [_x(c, x_key) for c in cands]
    ys = [float(c["metrics"].get(metric, float("nan"))) for c in cands]
    front = [(x, y) for x, y, c in zip(xs, ys, cands, strict=True) if c.get("pareto")]
    ax.scatter(xs, ys, color="#777", zorder=2)
    if front:
        ax.plot(*zip(*sorted(front), strict=True), color="#1f77b4", marker="o", zorder=3,
                label="Pareto front (quality vs cost)")
    for x, y, c in zip(xs, ys, cands, strict=True):
        chosen = c["model"] == result["recommendation"]
        name = str(c["model"])[-28:].replace("$", r"\$")
        ax.annotate(name + (" (chosen)" if chosen else ""), (x, y), textcoords="offset points",
                    xytext=(5, 5), fontsize=8, fontweight="bold" if chosen else "normal")
    ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    if front:
        ax.legend(loc="lower right", fontsize=8)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" '
            f'alt="{_e(metric)} against {_e(x_label)}"></figure>')


def _x(c: dict[str, Any], key: str) -> float:
    value = c["latency_ms"]["p95"] if key == "p95" else c[key]
    return max(float(value), 1e-12)


def render_decision(result: dict[str, Any]) -> str:
    """The report page as a string."""
    metric = result["primary_metric"]
    head = "".join(f"<th>{_e(label.format(metric=metric))}</th>" for _, label, _ in _COLUMNS)
    body = []
    for c in sorted(result["candidates"], key=lambda c: c["rank"]):
        cls = ' class="chosen"' if c["model"] == result["recommendation"] else ""
        cells = "".join(f"<td>{_cell(c, key, fmt, metric)}</td>" for key, _, fmt in _COLUMNS)
        body.append(f"<tr{cls}>{cells}</tr>")
    prices, region, power = result["prices"], result["region"], result["power"]
    notes = (f"Price: ${prices['cpu_hour']} per CPU-hour ({_e(prices.get('source', ''))}). "
             f"Energy: {_e(power.get('method'))}, "
             f"{power.get('watts_per_cpu', float('nan')):.3g} W per busy CPU thread. "
             f"Carbon: {_e(region.get('name'))}, "
             f"{region.get('kg_co2_per_kwh', float('nan')):.3g} kg CO2/kWh. "
             f"Latency at batch 1, medians over rounds; cost from CPU-seconds per row "
             f"(process CPU time) x price.")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lathe decide</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:4px 6px;
text-align:right}}td:nth-child(2),th:nth-child(2){{text-align:left}}
tr.chosen{{background:#e8f4e8;font-weight:bold}}figure{{display:inline-block;margin:1em}}
.answer{{font-size:1.2em;background:#f4f4f4;padding:.8em;border-left:4px solid #1f77b4}}
</style></head><body>
<h1>Which model to run</h1>
<p class="answer">{_e(result['reason'])}</p>
<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<p>{notes}</p>
<h2>Pareto fronts</h2>
{_plot(result, "cost_per_million", "$ per 1M predictions (log)")}
{_plot(result, "p95", "p95 latency at batch 1, ms (log)")}
</body></html>
"""


def write_decision_report(path: str | os.PathLike[str], result: dict[str, Any]) -> Path:
    """Render and write atomically (never half-written)."""
    from lathe.atomic import write_text_atomic

    page = render_decision(result)
    target = Path(path)
    write_text_atomic(target, page)
    return target
