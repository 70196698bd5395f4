"""Always-valid inference: the mixture SPRT (mSPRT) and its confidence sequence.

The formulation of Johari, Pekelis & Walsh ("Always valid inference", Optimizely) with a
normal mixing distribution N(0, tau^2) over the effect; for an estimate ``d`` of the
difference with variance ``v``::

    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 d^2 / (2 v (v + tau^2)))
    p_n    = min(p_{n-1}, 1 / Lambda)          (always-valid p-value)

Inverting ``Lambda < 1 / alpha`` gives the confidence sequence, which is exactly GrowthBook's
``sequential_interval_halfwidth`` when ``tau^2 = s2 rho^2`` with ``v = s2 / N`` (s2 the
per-unit variance of the difference, N all units) and GrowthBook's choice
``rho^2 = (-2 ln alpha + ln(-2 ln alpha + 1)) / N*`` (N* the tuning parameter: the sample
size where the sequence is tightest; GrowthBook's default 5,000). Peek as often as you like:
the chance that p_n ever drops below alpha under no effect stays <= alpha.

>>> half = halfwidth(var_diff=0.01, s2=100.0, alpha=0.05, tuning=5000)
>>> p = always_valid_p(diff=half, var_diff=0.01, s2=100.0, tuning=5000)
>>> round(p, 6)      # on the boundary of the sequence the p-value is exactly alpha
0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["DEFAULT_TUNING", "rho_squared", "always_valid_p", "halfwidth", "running_p"]

DEFAULT_TUNING = 5000


def rho_squared(alpha: float, tuning: float) -> float:
    return (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning


def _tau2(s2: float, tuning: float, alpha: float) -> float:
    return s2 * rho_squared(alpha, tuning)


def always_valid_p(*, diff: float, var_diff: float, s2: float, tuning: float = DEFAULT_TUNING,
                   alpha: float = 0.05) -> float:
    """1 / Lambda at one look (capped at 1); `running_p` takes the minimum over looks.

    `alpha` only sets the mixing variance (through rho); it is not a threshold here.
    """
    if not var_diff > 0:
        return float("nan")
    tau2 = _tau2(s2, tuning, alpha)
    log_lambda = 0.5 * math.log(var_diff / (var_diff + tau2)) + (
        tau2 * diff * diff / (2 * var_diff * (var_diff + tau2)))
    return float(min(1.0, math.exp(-log_lambda)))


def halfwidth(*, var_diff: float, s2: float, alpha: float = 0.05,
              tuning: float = DEFAULT_TUNING) -> float:
    """Half-width of the (1 - alpha) confidence sequence around the difference."""
    if not var_diff > 0:
        return float("nan")
    tau2 = _tau2(s2, tuning, alpha)
    bound = math.log(1 / alpha) + 0.5 * math.log((var_diff + tau2) / var_diff)
    return math.sqrt(2 * var_diff * (var_diff + tau2) / tau2 * bound)


def running_p(p_values: Sequence[float]) -> list[float]:
    """The always-valid p-value across looks: the running minimum."""
    out: list[float] = []
    best = 1.0
    for p in p_values:
        if p == p:
            best = min(best, p)
        out.append(best)
    return out
