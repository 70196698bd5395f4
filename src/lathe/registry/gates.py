"""The promotion gate: is a candidate not worse than the champion, beyond a tolerance?

Pure comparison; the registry decides where the numbers come from (each version's recorded
test metrics, or a fresh evaluation of both on `--on DATA`).

>>> decision = compare_metric("roc_auc", candidate=0.861, champion=0.862, tolerance=0.002)
>>> decision.passed, decision.higher_is_better
(True, True)
>>> compare_metric("rmse", candidate=3.5, champion=3.0).passed
False
>>> compare_metric("roc_auc", candidate=0.7, champion=None).passed  # no champion yet
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lathe.errors import GateFailed

__all__ = ["DEFAULT_TOLERANCE", "GateDecision", "compare_metric", "gate_metric", "enforce"]

DEFAULT_TOLERANCE = 0.002


@dataclass(frozen=True)
class GateDecision:
    metric: str
    candidate: float
    champion: float | None
    tolerance: float
    higher_is_better: bool
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, candidate_ref: str, champion_ref: str | None) -> str:
        arrow = "higher" if self.higher_is_better else "lower"
        if self.champion is None:
            return f"{candidate_ref} {self.metric}={self.candidate:.4f} (no champion to beat)"
        return (
            f"{self.metric} ({arrow} is better): candidate {candidate_ref} = {self.candidate:.4f}, "
            f"champion {champion_ref} = {self.champion:.4f}, tolerance {self.tolerance:g}"
        )


def gate_metric(task: str | None, metric: str | None = None) -> str:
    """The metric the gate compares: the one asked for, else the task's primary metric."""
    from lathe.evaluation.metrics import primary_metric  # sklearn: imported only when gating

    return metric or primary_metric(task or "regression")


def compare_metric(
    metric: str,
    *,
    candidate: float,
    champion: float | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> GateDecision:
    """Pass unless the candidate is worse than the champion by more than `tolerance`."""
    from lathe.evaluation.metrics import higher_is_better

    higher = higher_is_better(metric)
    if champion is None:
        passed = not math.isnan(candidate)
    elif higher:
        passed = candidate >= champion - tolerance
    else:
        passed = candidate <= champion + tolerance
    return GateDecision(metric, float(candidate), champion, tolerance, higher, bool(passed))


def enforce(decision: GateDecision, candidate_ref: str, champion_ref: str | None) -> None:
    """Raise GateFailed (printing both values) when the decision did not pass."""
    if decision.passed:
        return
    raise GateFailed(
        f"promotion gate failed: {decision.describe(candidate_ref, champion_ref)}",
        hint="promote a better version, gate on fresh data with --on DATA, "
        'or override with --force --reason "..."',
        **decision.to_dict(),
    )
