"""CUPED (Deng, Xu, Kohavi & Walker 2013): subtract what a pre-period covariate predicts.

``y_adj = y - theta * (x - mean(x))`` with ``theta = cov(x, y) / var(x)`` pooled over both
arms (assignment is random, so x is balanced and the adjustment keeps the effect unbiased).
The adjusted metric's variance is ``(1 - rho^2)`` of the raw one, rho the correlation.

>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=20_000); y = 0.7 * x + np.sqrt(1 - 0.49) * rng.normal(size=20_000)
>>> adjusted, theta = cuped_adjust(y, x)
>>> round(float(adjusted.var() / y.var()), 2)
0.51
"""

from __future__ import annotations

import numpy as np

__all__ = ["cuped_adjust"]


def cuped_adjust(metric: np.ndarray, covariate: np.ndarray) -> tuple[np.ndarray, float]:
    """The adjusted metric (same mean) and theta."""
    y = np.asarray(metric, dtype=float)
    x = np.asarray(covariate, dtype=float)
    if y.shape != x.shape:
        raise ValueError("cuped_adjust needs one covariate value per metric value")
    x_centred = x - x.mean()
    var_x = float(x_centred @ x_centred)
    if var_x == 0.0:
        return y.copy(), 0.0
    theta = float(x_centred @ (y - y.mean())) / var_x
    return y - theta * x_centred, theta
