"""What the data supports, in one sentence: ship, roll back, or keep running (and how long).

The first metric is the primary one. A sample-ratio mismatch overrides everything (the
comparison is not trustworthy); then a guardrail breach means roll back; then the primary
metric's Holm-adjusted p-value: significant and better -> ship the best treatment,
significant and worse for every treatment -> roll back, otherwise keep running with the
units per arm still needed to detect the observed difference at 80 % power (the normal
approximation ``n = (z_{1-alpha/2} + z_power)^2 (var_t + var_c) / delta^2``, which is what
statsmodels' ``NormalIndPower`` solves up to the opposite tail's negligible share).

>>> decide({"srm": {"mismatch": True, "p_value": 1e-6}, "metrics": {}})["verdict"]
'investigate'
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["decide", "VERDICTS"]

VERDICTS = ("ship", "roll back", "keep running", "investigate")
POWER = 0.8


def needed_per_arm(diff: float, var_t: float, var_c: float, alpha: float = 0.05,
                   power: float = POWER) -> int | None:
    """Units per arm to detect `diff` (None when no difference was observed)."""
    from scipy.special import ndtri

    if not diff or not math.isfinite(diff) or not (var_t + var_c) > 0:
        return None
    z = float(ndtri(1 - alpha / 2)) + float(ndtri(power))
    return int(math.ceil(z * z * (var_t + var_c) / (diff * diff)))


def decide(result: dict[str, Any], *, alpha: float = 0.05,
           guardrails: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    srm = result["srm"]
    if srm["mismatch"]:
        return {"verdict": "investigate", "sentence": (
            f"Do not act on this result: the variants' sizes do not match the planned split "
            f"(sample-ratio mismatch, p = {srm['p_value']:.2g}); find why units went missing "
            f"or were assigned twice before deciding."), "needed_per_arm": None}
    breached = [g for g in (guardrails or []) if g.get("breached")]
    if breached:
        names = ", ".join(str(g["name"]) for g in breached)
        return {"verdict": "roll back", "sentence": f"Roll back: guardrail {names} breached.",
                "needed_per_arm": None}
    if not result["metrics"]:
        return {"verdict": "keep running", "sentence": "No metric to decide on yet.",
                "needed_per_arm": None}
    metric, block = next(iter(result["metrics"].items()))
    comps = block["comparisons"]
    better = {v: c for v, c in comps.items() if c["significant"] and c["difference"] > 0}
    worse = {v: c for v, c in comps.items() if c["significant"] and c["difference"] < 0}
    if better:
        best = max(better, key=lambda v: better[v]["difference"])
        c = better[best]
        return {"verdict": "ship", "variant": best, "sentence": (
            f"Ship {best}: it moves {metric} by {_pct(c['lift'])} "
            f"({_interval(c['ci'])} absolute, p = {c['p_adjusted']:.2g})."),
            "needed_per_arm": None}
    if worse and len(worse) == len(comps):
        v, c = next(iter(worse.items()))
        return {"verdict": "roll back", "variant": v, "sentence": (
            f"Roll back {v}: it lowers {metric} by {abs(c['lift']) * 100:.2f} % "
            f"({_interval(c['ci'])} absolute, p = {c['p_adjusted']:.2g})."),
            "needed_per_arm": None}
    variants = block["variants"]
    control = next(iter(variants))
    needs = []
    for v, c in comps.items():
        need = needed_per_arm(c["difference"], variants[v]["variance"],
                              variants[control]["variance"], alpha)
        have = min(variants[v]["n"], variants[control]["n"])
        if need is not None:
            needs.append((max(0, need - have), need, v))
    if not needs:
        return {"verdict": "keep running", "needed_per_arm": None, "sentence": (
            f"Keep running: no difference in {metric} is visible yet.")}
    still, need, v = min(needs)
    return {"verdict": "keep running", "needed_per_arm": need, "still_needed_per_arm": still,
            "sentence": (
                f"Keep running: {metric} shows no significant difference yet "
                f"(smallest p = {min(c['p_adjusted'] for c in comps.values()):.2g}); detecting "
                f"the observed {_pct(comps[v]['lift'])} at 80 % power needs about {need:,} "
                f"units per arm, {still:,} more than now.")}


def _pct(value: float) -> str:
    return f"{value * 100:+.2f} %" if value == value else "an unknown share"


def _interval(ci: list[float]) -> str:
    return f"95 % CI {ci[0]:+.4g} to {ci[1]:+.4g}"
