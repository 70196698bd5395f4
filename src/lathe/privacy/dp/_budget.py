"""The (epsilon, delta) of a private training run and how it is split.

>>> plan_budget(1.0, 0.5, n_rows=100, share=0.1, needs_delta=False)
Traceback (most recent call last):
...
lathe.errors.UsageError: --dp-delta 0.5 must be below 1/n = 0.01 (n = 100 training rows). Fix: use --dp-delta 1e-05 or smaller (a common choice is below 1/(10 n))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lathe.errors import UsageError

__all__ = ["BudgetPlan", "plan_budget", "DP_FAMILIES_HINT"]

DP_FAMILIES_HINT = "mlp and linear can be trained privately"


@dataclass(frozen=True)
class BudgetPlan:
    epsilon: float
    delta: float
    preprocessing_epsilon: float
    preprocessing_delta: float

    @property
    def training_epsilon(self) -> float:
        return self.epsilon - self.preprocessing_epsilon

    @property
    def training_delta(self) -> float:
        return self.delta - self.preprocessing_delta

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "training_epsilon": self.training_epsilon,
                "training_delta": self.training_delta}


def plan_budget(epsilon: float, delta: float | None, *, n_rows: int, share: float,
                needs_delta: bool, needs_epsilon: bool = True) -> BudgetPlan:
    """Check (epsilon, delta) against the train split's `n_rows` and split it."""
    if not epsilon > 0:
        raise UsageError(f"--dp-epsilon {epsilon} must be > 0", hint="e.g. --dp-epsilon 1")
    limit = 1.0 / max(1, n_rows)
    if delta is None:
        delta = min(1e-5, limit / 10)
    if not 0 < delta < limit:
        raise UsageError(
            f"--dp-delta {delta:g} must be below 1/n = {limit:.3g} (n = {n_rows} training rows)",
            hint=f"use --dp-delta {min(1e-5, limit / 10):.3g} or smaller (a common choice "
                 "is below 1/(10 n))")
    pre_eps = epsilon * share if needs_epsilon else 0.0
    pre_delta = delta * 0.1 if needs_delta and pre_eps > 0 else 0.0
    return BudgetPlan(float(epsilon), float(delta), pre_eps, pre_delta)
