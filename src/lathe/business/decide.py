"""`lathe decide`: measure every candidate on the same rows, price it, rank it, say which to run.

Each candidate gets every `evaluate` metric, latency and throughput through the server's
predict path, CPU-seconds per row, memory and size (`business.measure`); then

* money: `cost_per_million = cpu_seconds_per_row x 1e6 x price_per_cpu_hour / 3600`, monthly
  cost and replicas at the traffic (`business.money`), training cost from the manifest's
  footprint (CPU-hours x price);
* energy and carbon: `kwh_per_million = cpu_seconds_per_row x 1e6 x W / 3.6e6`, W the watts
  per busy CPU thread of CodeCarbon's tracker that ran around these very measurements (the
  same source as the training footprint); `co2_kg_per_million` with the region's intensity;
* value (with `--value`): expected value per prediction from the confusion matrix, the
  value-maximising threshold for binary models, and ROI / break-even of replacing the champion
  (the first candidate) with each other one, training cost included.

The recommendation is never dominated on (primary metric, cost_per_million): it is chosen
from the Pareto front of those two — with values, the front member with the most net value
per prediction; without, the cheapest one keeping `1 - tolerance` of the best quality.

>>> front = pareto_front([(0.90, 1.0), (0.95, 3.0), (0.89, 2.0)])
>>> front
[0, 1]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from lathe.business.measure import Scorer, measure_candidates
from lathe.business.money import (
    Prices,
    cost_per_million,
    monthly_costs,
    parse_prices,
    parse_traffic,
    replicas_needed,
    training_cost,
)
from lathe.business.value import evaluate_value, parse_value_spec, replacement_economics
from lathe.errors import DataError, UsageError
from lathe.evaluation.metrics import higher_is_better

__all__ = ["decide_candidates", "pareto_front", "recommend", "sentence"]


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (quality higher-better, cost lower-better) points nobody dominates."""
    out = []
    for i, (q, c) in enumerate(points):
        dominated = any(q2 >= q and c2 <= c and (q2 > q or c2 < c)
                        for j, (q2, c2) in enumerate(points) if j != i)
        if not dominated:
            out.append(i)
    return out


def recommend(quality: list[float], cost: list[float], net_value: list[float] | None = None,
              tolerance: float = 0.01) -> int:
    """The candidate to run: on the (quality, cost) front always (see the module docstring).

    `quality` is oriented higher-is-better; `net_value` per prediction when values are known.
    """
    front = pareto_front(list(zip(quality, cost, strict=True)))
    if net_value is not None:
        return max(front, key=lambda i: (net_value[i], quality[i], -cost[i]))
    best = max(quality[i] for i in front)
    keep = [i for i in front if _retained(quality[i], best) >= 1.0 - tolerance]
    return min(keep, key=lambda i: (cost[i], -quality[i]))


def _retained(q: float, best: float) -> float:
    """Share of the best quality kept (both oriented higher-is-better)."""
    if best > 0 and q >= 0:
        return q / best
    if best < 0 and q < 0:  # a lower-is-better metric (rmse, log loss), negated: best / worse
        return best / q
    return 1.0 if q >= best else max(0.0, 1.0 - (best - q) / max(abs(best), 1e-12))


def _oriented(value: float, metric: str) -> float:
    return value if higher_is_better(metric) else -value


def _check_same_problem(rows: list[dict[str, Any]]) -> None:
    first = rows[0]["model_object"]
    for row in rows[1:]:
        other = row["model_object"]
        if (other.task, other.schema.target) != (first.task, first.schema.target):
            raise UsageError(
                f"candidate {row['model']!r} predicts {other.schema.target!r} ({other.task}) "
                f"but {rows[0]['model']!r} predicts {first.schema.target!r} ({first.task})",
                hint="decide between models of the same target and task")


def _measure_all(models: list[str], frame: pd.DataFrame, load: Callable[[str], Any],
                 make_scorer: Callable[[Any], Scorer] | None, source: str,
                 rounds: int) -> list[dict[str, Any]]:
    def cannot_score(i: int, error: Exception) -> Exception:
        if isinstance(error, DataError):
            return type(error)(f"candidate {models[i]!r} cannot score {source}: "
                               f"{error.message}", hint=error.hint)
        return error

    measured = measure_candidates([partial(load, ref) for ref in models], frame,
                                  make_scorer=make_scorer, rounds=rounds,
                                  on_error=cannot_score)
    return [{"model": ref, **row} for ref, row in zip(models, measured, strict=True)]


def decide_candidates(
    models: list[str],
    frame: pd.DataFrame,
    *,
    load: Callable[[str], Any],
    make_scorer: Callable[[Any], Scorer] | None = None,
    source: str = "data",
    traffic: str | None = None,
    price: str | None = None,
    value: Any = None,
    region: str | None = None,
    target_p95_ms: float = 100.0,
    tolerance: float = 0.01,
    rounds: int = 5,
) -> dict[str, Any]:
    """Measure, price and rank `models` on `frame`; the JSON-ready decision."""
    from lathe.footprint import FootprintTracker, resolve_region

    if not models:
        raise UsageError("no candidate models given", hint="lathe decide MODEL... --data FILE")
    if len(set(models)) != len(models):
        raise UsageError("a candidate is given twice", hint="list each model once")
    prices = parse_prices(price)  # every argument is checked before any work
    rate = parse_traffic(traffic)
    spec = parse_value_spec(value)
    where = resolve_region(region)
    if not target_p95_ms > 0:
        raise UsageError(f"the target p95 latency must be > 0 ms, got {target_p95_ms}")
    # CodeCarbon's hardware probe runs in this process: let it finish before timing CPU
    tracker = FootprintTracker(region).start().wait_ready()
    try:
        rows = _measure_all(models, frame, load, make_scorer, source, rounds)
    except BaseException:
        tracker.cancel()
        raise
    session = tracker.stop()
    power = tracker.power
    assert power is not None
    _check_same_problem(rows)
    if spec is not None and rows[0]["model_object"].classes is None:
        raise UsageError("--value needs classification models; these do regression")
    candidates = [_economics(row, prices, rate, power.watts_per_cpu, where.kg_per_kwh,
                             target_p95_ms, spec, frame) for row in rows]
    return _decision(candidates, rows[0]["metrics"]["primary_metric"], rate, tolerance,
                     prices, power.to_dict(), where, session, source, target_p95_ms)


def _economics(row: dict[str, Any], prices: Prices, rate: dict[str, Any] | None,
               watts_per_cpu: float, kg_per_kwh: float, target_p95_ms: float,
               spec: dict[str, Any] | None, frame: pd.DataFrame) -> dict[str, Any]:
    model = row.pop("model_object")
    cpu = row["cpu_seconds_per_row"]
    cost = cost_per_million(cpu, prices.cpu_hour)
    kwh = cpu * 1e6 * watts_per_cpu / 3.6e6
    replicas = None if rate is None else replicas_needed(
        rate["per_second"], p95_ms=row["latency_ms"]["p95"], mean_ms=row["latency_ms_mean"],
        target_p95_ms=target_p95_ms)
    footprint = model.manifest.get("footprint")
    out = {
        "model": row["model"],
        "family": model.family.name,
        "metrics": row["metrics"],
        "latency_ms": row["latency_ms"],
        "latency_ms_mean": row["latency_ms_mean"],
        "throughput_rows_per_second_batch64": row["throughput_rows_per_second_batch64"],
        "cpu_seconds_per_row": cpu,
        "cpu_seconds_per_row_batch64": row["cpu_seconds_per_row_batch64"],
        "gpu_seconds_per_row": 0.0,
        "price_per_cpu_hour": prices.cpu_hour,
        "price_per_gpu_hour": prices.gpu_hour,
        "cost_per_million": cost,
        "kwh_per_million": kwh,
        "co2_kg_per_million": kwh * kg_per_kwh,
        "peak_memory_mb": row["peak_memory_mb"],
        "size_bytes": row["size_bytes"],
        "replicas": replicas,
        **monthly_costs(cost, rate, replicas, prices),
        "training_footprint": footprint,
        "training_cost": training_cost(footprint, prices),
        "expected_value": None,
        "timing": row["timing"],
    }
    if spec is not None:
        value = evaluate_value(model, frame, spec, row["metrics"])
        out["expected_value"] = value["expected_value"]
        if "threshold" in value:
            out["threshold"] = {"threshold": value["threshold"],
                                "expected_value": value["expected_value_at_threshold"],
                                "expected_value_at_0.5": value["expected_value_at_0_5"]}
    return out


def _decision(candidates: list[dict[str, Any]], metric: str, rate: dict[str, Any] | None,
              tolerance: float, prices: Prices, power: dict[str, Any], where: Any,
              session: dict[str, Any], source: str, target_p95_ms: float) -> dict[str, Any]:
    quality = [_oriented(float(c["metrics"][metric]), metric) for c in candidates]
    cost = [c["cost_per_million"] for c in candidates]
    valued = candidates[0]["expected_value"] is not None
    net = [c["expected_value"] - c["cost_per_million"] / 1e6 for c in candidates] \
        if valued else None
    pick = recommend(quality, cost, net, tolerance)
    front = set(pareto_front(list(zip(quality, cost, strict=True))))
    champion = candidates[0]
    for i, c in enumerate(candidates):
        c["pareto"] = i in front
        c["rank"] = 0
        c["vs_champion"] = None if i == 0 else replacement_economics(
            c, champion, None if rate is None else rate["per_month"])
    order = sorted(range(len(candidates)), key=lambda i: (
        i != pick, i not in front, -(net[i] if net else quality[i]), cost[i]))
    for rank, i in enumerate(order, 1):
        candidates[i]["rank"] = rank
    return {
        "recommendation": candidates[pick]["model"],
        "reason": sentence(candidates, pick, metric, quality),
        "primary_metric": metric,
        "candidates": candidates,
        "data": {"source": source, "rows": candidates[0]["timing"]["rows"]},
        "prices": prices.to_dict(),
        "traffic": rate,
        "target_p95_ms": target_p95_ms,
        "tolerance": tolerance,
        "power": power,
        "region": {"code": where.code, "region": where.region, "name": where.name,
                   "kg_co2_per_kwh": where.kg_per_kwh, "source": where.source},
        "measurement_footprint": session,
        "champion": champion["model"],
    }


def sentence(candidates: list[dict[str, Any]], pick: int, metric: str,
             quality: list[float]) -> str:
    """One sentence: which to run and why."""
    chosen = candidates[pick]
    best = max(range(len(candidates)), key=lambda i: (quality[i], -candidates[i]["cost_per_million"]))
    shown = chosen["metrics"][metric]
    if best == pick:
        cheaper = [i for i in range(len(candidates))
                   if candidates[i]["cost_per_million"] < chosen["cost_per_million"]]
        text = (f"run {chosen['model']}: it has the best {metric} ({shown:.4g}) at "
                f"${chosen['cost_per_million']:.4g} per 1M predictions")
        if cheaper:
            # the strongest cheaper alternative is the trade worth naming
            i = max(cheaper, key=lambda j: (quality[j], -candidates[j]["cost_per_million"]))
            other = candidates[i]
            kept = _retained(quality[i], quality[best])
            if chosen["expected_value"] is not None and other["expected_value"] is not None:
                less = (chosen["expected_value"] - other["expected_value"]
                        - (chosen["cost_per_million"] - other["cost_per_million"]) / 1e6)
                text += (f"; {other['model']} costs {_ratio(other, chosen):.0%} as much and "
                         f"keeps {kept:.1%} of its {metric}, but earns {less:.3g} less per "
                         f"prediction after serving costs")
            else:
                text += (f"; {other['model']} costs {_ratio(other, chosen):.0%} as much but "
                         f"keeps only {kept:.1%} of its {metric}")
        if chosen["expected_value"] is not None:
            text += f"; it earns {chosen['expected_value']:.4g} per prediction"
        return text
    top = candidates[best]
    text = (f"run {chosen['model']}: it keeps {_retained(quality[pick], quality[best]):.1%} "
            f"of the best {metric} ({top['model']}, {top['metrics'][metric]:.4g}) at "
            f"{_ratio(chosen, top):.0%} of its cost")
    if chosen["expected_value"] is not None and top["expected_value"] is not None:
        gain = (top["expected_value"] - chosen["expected_value"]
                - (top["cost_per_million"] - chosen["cost_per_million"]) / 1e6)
        if gain > 0 and top.get("training_cost"):
            text += (f"; {top['model']} earns {gain:.3g} more per prediction and pays back "
                     f"its training after {_count(top['training_cost'] / gain)} predictions")
        elif gain <= 0:
            text += f"; {top['model']} earns less per prediction than it costs over it"
    return text


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    return a["cost_per_million"] / b["cost_per_million"] if b["cost_per_million"] else 1.0


def _count(n: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"
