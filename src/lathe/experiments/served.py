"""Analyse a served experiment from the prediction log and the outcomes sent as feedback.

Rows of the experiment (``experiment = NAME`` in the log; shadow rows excluded) are grouped
by unit: the unit field of the rows' inputs (the experiment's ``--unit``), else the request
(a unit sent only as the ``X-Unit-Id`` header is not in the log, so each request counts as
one unit). The metric is the outcome posted to ``/v1/feedback`` when it is a number or true/false;
for class labels it is whether the prediction was right (``correct``, also chosen with
``--metric correct``). Rows without an outcome yet are left out and counted. A unit with several rows
is a ratio metric (sum of outcomes over rows, delta method). SRM compares the units per
variant with the planned split, or for a canary with the share its ramp gave each unit when
it first arrived. Guardrails (p50/p99 latency of each variant's requests) come from the log.

>>> round(_planned_treatment_share({"steps": [10, 50], "step_minutes": 1}, [30.0, 90.0]), 2)
0.3
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lathe.errors import DataError
from lathe.experiments.analysis import Metric, analyze_outcomes
from lathe.experiments.records import canary_share, get

__all__ = ["analyze_experiment"]

DEFAULT_LOG = "sqlite:///.lathe/predictions.db"


def _planned_treatment_share(canary: dict[str, Any], elapsed_s: list[float]) -> float:
    return float(np.mean([canary_share(canary, t) for t in elapsed_s])) / 100.0


def _outcome_values(rows: Any, metric: str | None) -> tuple[np.ndarray, str]:
    """The metric per row: the outcome itself when it is a number or true/false, else (class
    labels) whether the prediction was right ("correct")."""
    import pandas as pd

    if metric != "correct":
        mapped = rows["outcome"].map(lambda v: {"true": 1.0, "false": 0.0}.get(v.lower(), v)
                                     if isinstance(v, str) else v)
        values = pd.to_numeric(mapped, errors="coerce")
        if not values.isna().any():
            return values.to_numpy(dtype=float), metric or "outcome"
    same = [p == o or str(p) == str(o) for p, o in zip(rows["prediction"], rows["outcome"],
                                                       strict=True)]
    return np.asarray(same, dtype=float), "correct"


def analyze_experiment(name: str, *, prediction_log: str | None = None, metric: str | None = None,
                       store: str | None = None, report: str | os.PathLike[str] | None = None,
                       alpha: float = 0.05) -> dict[str, Any]:
    import pandas as pd

    from lathe.predlog import read_all

    exp = get(name, store)
    url = prediction_log or DEFAULT_LOG
    frame = read_all(url, model=exp.model, experiment=name)
    frame = frame[frame["variant"].isin(["control", "treatment"])]
    if frame.empty:
        raise DataError(f"the prediction log {url} has no requests of experiment {name!r}",
                        hint="serve with `lathe serve MODEL@champion --experiments` and send "
                        "traffic, or pass --prediction-log URL")
    units = frame["inputs"].map(lambda r: r.get(exp.unit) if isinstance(r, dict) else None)
    frame = frame.assign(unit=units.where(units.notna(), frame["request_id"]).astype(str))
    first = frame.groupby("unit").agg(variant=("variant", "first"), time=("time", "min"))
    if first.index.size and frame.groupby("unit")["variant"].nunique().max() > 1:
        raise DataError(f"experiment {name!r}: some units were served by both variants",
                        hint="the unit id must identify one unit (check --unit)")
    with_outcome = frame[frame["outcome"].notna()]
    missing = int(len(frame) - len(with_outcome))
    variants = ["control", "treatment"]
    counts = first["variant"].value_counts()
    empty = [v for v in variants if counts.get(v, 0) == 0]
    if empty:
        raise DataError(f"experiment {name!r}: variant {empty[0]!r} has no requests in the log",
                        hint="send more traffic (or check the split)")
    if with_outcome.empty:
        raise DataError(f"experiment {name!r}: no outcome has arrived yet "
                        f"({len(frame)} rows without one)",
                        hint="post outcomes to /v1/feedback (by request id or row id)")
    value, label = _outcome_values(with_outcome, metric or exp.metric)
    values = with_outcome.assign(value=value)
    per_unit = values.groupby("unit").agg(total=("value", "sum"), rows=("value", "size"),
                                          variant=("variant", "first"))
    codes = per_unit["variant"].map({"control": 0, "treatment": 1}).to_numpy(dtype=np.intp)
    if per_unit["rows"].max() > 1:
        m = Metric(per_unit["total"].to_numpy(float), "ratio",
                   denominator=per_unit["rows"].to_numpy(float))
    else:
        v = per_unit["total"].to_numpy(float)
        m = Metric(v, "proportion" if np.all((v == 0) | (v == 1)) else "mean")
    if exp.mode == "canary" and exp.canary:
        started = pd.Timestamp(exp.started_at)
        elapsed = [(t - started).total_seconds() for t in first["time"]]
        share = _planned_treatment_share(exp.canary, elapsed)
        split = [1 - share, share]
    else:
        split = [exp.split[0] / 100, exp.split[1] / 100]
    result = analyze_outcomes(codes, variants, {label: m}, control="control", split=split,
                              alpha=alpha)
    # SRM counts every unit that was served, not only those with an outcome
    from lathe.experiments.stats.srm import srm_test

    served = [int(counts.get(v, 0)) for v in variants]
    srm = srm_test(served, split)
    result["srm"].update(p_value=srm.p_value, mismatch=srm.mismatch, statistic=srm.statistic,
                         counts=dict(zip(variants, served, strict=True)),
                         expected=dict(zip(variants, srm.expected, strict=True)))
    result["guardrails"] = _guardrails(frame, exp.guardrails)
    from lathe.experiments.decision import decide

    result["decision"] = decide(result, alpha=alpha, guardrails=result["guardrails"])
    result["experiment"] = {"name": exp.name, "status": exp.status, "control": exp.control,
                            "treatment": exp.treatment, "rows_without_outcome": missing}
    if report is not None:
        from pathlib import Path

        from lathe.experiments.report import write_report

        result["report"] = str(write_report(Path(report), result, source=f"experiment {name}"))
    return result


def _guardrails(frame: Any, guards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    requests = frame.drop_duplicates("request_id")
    out = []
    for guard in guards:
        if guard["name"] not in ("p50_ms", "p99_ms"):
            continue  # error rates are counted by the server (failed requests are not logged)
        q = 50 if guard["name"] == "p50_ms" else 99
        lat = requests.loc[requests["variant"] == "treatment", "latency_ms"].to_numpy(float)
        if lat.size == 0:
            continue
        value = float(np.percentile(lat, q))
        ok = value < guard["limit"] if guard["op"] == "<" else value > guard["limit"]
        out.append({"name": guard["name"], "variant": "treatment", "value": value,
                    "limit": f"{guard['op']} {guard['limit']:g}", "breached": not ok})
    return out

