"""The Pareto front of a multi-objective study: each front model refitted and saved, and a
plot of every trial with the front highlighted (matplotlib Figure + Agg, no pyplot state).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["save_front", "plot_front"]

FRONT_LIMIT = 20  # refitting costs a full fit per model; a front rarely needs more


def plot_front(result: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = result.trials
    done = table[table["state"] == "COMPLETE"]
    x_name, y_name = result.objectives[1], result.objectives[0]
    fig = Figure(figsize=(6, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(done["values_1"], done["values_0"], s=14, color="#9ab", label="trials")
    front = sorted(result.pareto_front, key=lambda f: f["values"][x_name])
    ax.plot([f["values"][x_name] for f in front], [f["values"][y_name] for f in front],
            "o-", color="#c33", label="Pareto front")
    ax.set_xlabel("latency (ms per 1,000 rows)" if x_name == "latency" else x_name)
    ax.set_ylabel(result.metric)
    ax.legend()
    fig.savefig(path, format="png")
    return path


def save_front(result: Any, directory: Path, build: Callable[[Any], Any]) -> list[Path]:
    """Refit and save each front model as an artifact `trial-NNNN`; write `pareto.png`.

    `build(trial)` refits the model of a (frozen) trial, whose `params` are the ones the
    study sampled (the search passes it, so this module needs nothing of it)."""
    directory.mkdir(parents=True, exist_ok=True)
    by_number = {int(row["number"]): row for _, row in result.trials.iterrows()}
    saved = []
    for entry in result.pareto_front[:FRONT_LIMIT]:
        params_row = {k[len("params_"):]: v for k, v in by_number[entry["trial"]].items()
                      if k.startswith("params_") and v == v}

        class _Frozen:  # what the search reads from a trial
            params = {k: (v.item() if hasattr(v, "item") else v) for k, v in params_row.items()}

        saved.append(build(_Frozen).save(directory / f"trial-{entry['trial']:04d}"))
    plot_front(result, directory / "pareto.png")
    return saved
