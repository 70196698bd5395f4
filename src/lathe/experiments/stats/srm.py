"""Sample-ratio mismatch: a chi-squared goodness-of-fit test of the arms' sizes against the plan.

Flagged below p = 0.001, as GrowthBook does: with millions of units a real assignment bug
shows at that level, while an honest split crosses it once in a thousand experiments.

>>> result = srm_test([44_700, 45_489], [0.5, 0.5])
>>> round(result.p_value, 4), result.mismatch
(0.0086, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SRM_THRESHOLD", "SrmResult", "srm_test"]

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    statistic: float
    p_value: float
    mismatch: bool
    expected: tuple[float, ...]


def srm_test(counts: Sequence[int], shares: Sequence[float],
             threshold: float = SRM_THRESHOLD) -> SrmResult:
    """SciPy's ``chisquare(counts, f_exp=total * shares)`` (tests hold them equal), computed
    with ``scipy.special.chdtrc`` to spare the CLI importing scipy.stats; shares are
    normalised to sum to 1."""
    from scipy.special import chdtrc

    observed = np.asarray(counts, dtype=float)
    weights = np.asarray(shares, dtype=float)
    if observed.size != weights.size or observed.size < 2:
        raise ValueError("srm_test needs one planned share per arm and at least two arms")
    expected = observed.sum() * weights / weights.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    p = float(chdtrc(observed.size - 1, statistic))
    return SrmResult(statistic, p, bool(p < threshold), tuple(expected.tolist()))
