"""Experiments in the registry's store: start, list, get, stop (promote or roll back).

An experiment pins its control and treatment to versions of one registered model when it
starts; at most one experiment runs per (model, unit). Stopping with `promote` moves the
champion alias through the registry's gate (a failed gate changes nothing); either way the
experiment's outcome is written to the registry's append-only audit in the same
transaction that marks it stopped.

>>> parse_guardrail("p99_ms<50")
{'name': 'p99_ms', 'op': '<', 'limit': 50.0}
>>> canary_share({"steps": [1, 5, 25, 50], "step_minutes": 10}, elapsed_s=1500)
25.0
"""

from __future__ import annotations

import json
import re
from typing import Any

from lathe.errors import Conflict, NotFound, UsageError, did_you_mean
from lathe.registry import experiments_table as table
from lathe.registry.experiments_table import Experiment, canary_share

__all__ = [
    "GUARDRAIL_METRICS",
    "Experiment",
    "parse_guardrail",
    "parse_shares",
    "canary_share",
    "start",
    "list_experiments",
    "get",
    "running_for",
    "stop",
    "mark_rolled_back",
]

GUARDRAIL_METRICS = ("p99_ms", "p50_ms", "error_rate")
DEFAULT_CANARY_GUARD = {"name": "error_rate", "op": "<", "limit": 0.05}
_GUARD = re.compile(r"^\s*([a-z0-9_]+)\s*([<>])\s*([0-9.eE+-]+)\s*$")


def parse_guardrail(text: str) -> dict[str, Any]:
    found = _GUARD.match(text or "")
    if not found or found.group(1) not in GUARDRAIL_METRICS:
        raise UsageError(f"guardrail {text!r} is not METRIC<LIMIT",
                         hint=f"e.g. p99_ms<50 or error_rate<0.01 (metrics: "
                         f"{', '.join(GUARDRAIL_METRICS)})")
    try:
        limit = float(found.group(3))
    except ValueError:
        raise UsageError(f"guardrail {text!r}: {found.group(3)!r} is not a number",
                         hint="e.g. p99_ms<50") from None
    return {"name": found.group(1), "op": found.group(2), "limit": limit}


def parse_shares(text: str) -> list[float]:
    """'50/50' -> [50.0, 50.0]: two percentages summing to 100."""
    try:
        parts = [float(p) for p in text.split("/")]
    except ValueError:
        raise UsageError(f"--split {text!r} is not two numbers separated by '/'",
                         hint="e.g. --split 50/50 or --split 90/10 (control first)") from None
    if len(parts) != 2 or any(p < 0 for p in parts) or abs(sum(parts) - 100) > 1e-9:
        raise UsageError(f"--split {text!r} must be two shares summing to 100 "
                         f"(they sum to {sum(parts):g})",
                         hint="e.g. --split 50/50 or --split 90/10 (control first)")
    return parts


def _parse_canary(steps: str, step_minutes: float | None) -> dict[str, Any]:
    try:
        values = [float(s) for s in steps.split(",")]
    except ValueError:
        raise UsageError(f"--canary {steps!r} is not comma-separated percentages",
                         hint="e.g. --canary 1,5,25,50") from None
    if not values or any(not 0 < v <= 100 for v in values) or values != sorted(values):
        raise UsageError(f"--canary {steps!r} must rise through percentages in (0, 100]",
                         hint="e.g. --canary 1,5,25,50")
    if step_minutes is None or not step_minutes > 0:
        raise UsageError("a canary needs --step-minutes M (> 0) between its steps",
                         hint="e.g. --canary 1,5,25,50 --step-minutes 30")
    return {"steps": values, "step_minutes": float(step_minutes)}


def _registry(store_url: str | None) -> Any:
    from lathe.registry import open_registry

    return open_registry(store_url)


def start(name: str, *, control: str, treatment: str, split: str = "50/50", unit: str,
          metric: str | None = None, guardrails: list[str] | None = None, shadow: bool = False,
          canary: str | None = None, step_minutes: float | None = None,
          store: str | None = None) -> Experiment:
    """Record a running experiment (validated in full before anything is written)."""
    import sqlalchemy as sa

    from lathe.registry.experiments_table import experiments
    from lathe.registry.records import check_name, current_actor, utc_now

    check_name(name, "experiment name")
    shares = parse_shares(split)
    guards = [parse_guardrail(g) for g in guardrails or []]
    if shadow and canary:
        raise UsageError("an experiment is either --shadow or --canary, not both",
                         hint="drop one of them")
    ramp = _parse_canary(canary, step_minutes) if canary else None
    if ramp and not any(g["name"] == "error_rate" for g in guards):
        guards.append(dict(DEFAULT_CANARY_GUARD))  # a canary always rolls back on errors
    if not unit or not unit.strip():
        raise UsageError("--unit names the field that identifies a unit (e.g. user_id)",
                         hint="pass --unit COL")
    reg = _registry(store)
    try:
        c, t = reg.resolve(control), reg.resolve(treatment)
        if c.name != t.name:
            raise UsageError(f"control {c.ref} and treatment {t.ref} are different models",
                             hint="compare two versions of one registered model")
        if c.version == t.version:
            raise UsageError(f"control and treatment are both {c.ref}",
                             hint="pick another version for --treatment")
        record = {"name": name, "model": c.name, "control": c.ref, "treatment": t.ref,
                  "control_ref": control, "treatment_ref": treatment,
                  "split": json.dumps(shares), "unit": unit, "metric": metric,
                  "guardrails": json.dumps(guards),
                  "mode": "shadow" if shadow else "canary" if ramp else "split",
                  "canary": json.dumps(ramp) if ramp else None, "status": "running",
                  "started_at": utc_now(), "started_by": current_actor()}
        with reg.store.write() as conn:
            reg.store.lock_model(conn, c.name)
            if conn.execute(sa.select(experiments.c.name)
                            .where(experiments.c.name == name)).first():
                raise Conflict(f"an experiment named {name!r} already exists",
                               hint="choose another name (experiment names are never reused)")
            clash = conn.execute(sa.select(experiments.c.name).where(
                experiments.c.model == c.name, experiments.c.unit == unit,
                experiments.c.status == "running")).scalar()
            if clash:
                raise Conflict(f"experiment {clash!r} already runs on {c.name} by unit "
                               f"{unit!r}", hint=f"stop it first: lathe experiment stop {clash} "
                               "--promote | --rollback")
            conn.execute(experiments.insert().values(**record))
        return get(name, registry=reg)
    finally:
        reg.close()


def list_experiments(store: str | None = None, *, registry: Any = None) -> list[Experiment]:
    reg = registry or _registry(store)
    try:
        return table.read_experiments(reg.store)
    finally:
        if registry is None:
            reg.close()


def get(name: str, store: str | None = None, *, registry: Any = None) -> Experiment:
    found = {e.name: e for e in list_experiments(store, registry=registry)}
    if name not in found:
        where = did_you_mean(name, found) if found else "no experiment has been started"
        raise NotFound(f"no experiment named {name!r}; {where}",
                       hint="list them with lathe experiment list", name=name)
    return found[name]


def running_for(model: str, *, registry: Any) -> list[Experiment]:
    return [e for e in list_experiments(registry=registry)
            if e.model == model and e.status == "running"]


def stop(name: str, *, promote: bool, reason: str | None = None,
         analysis: dict[str, Any] | None = None, store: str | None = None,
         evaluate: Any = None) -> Experiment:
    """Promote the treatment (through the gate) or roll back; audit the outcome."""
    reg = _registry(store)
    try:
        exp = get(name, registry=reg)
        if exp.status != "running":
            raise Conflict(f"experiment {name!r} already stopped ({exp.status})",
                           hint="start a new experiment to test again")
        result: dict[str, Any] = {"reason": reason, "control": exp.control,
                                  "treatment": exp.treatment}
        if analysis is not None:
            result["decision"] = analysis.get("decision")
        if promote:
            _, version = exp.treatment.rsplit(":", 1)
            change = reg.promote(exp.model, int(version), evaluate=evaluate)
            result["gate"] = change.gate
            status = "promoted"
        else:
            status = "rolled back"
        table.finish(reg.store, exp, status, result)
        return get(name, registry=reg)
    finally:
        reg.close()


def mark_rolled_back(name: str, reason: str, *, registry: Any) -> bool:
    """The server's automatic rollback (a guardrail breached); False if it already stopped."""
    return table.mark_rolled_back(registry.store, name, reason)
