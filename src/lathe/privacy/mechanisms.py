"""The Laplace and Gaussian mechanisms, calibrated by their published formulas.

- Laplace (Dwork, McSherry, Nissim, Smith 2006): noise Lap(b) with b = sensitivity / epsilon
  gives epsilon-DP for an L1 sensitivity.
- Gaussian, analytic calibration (Balle and Wang 2018, Theorem 8): the smallest sigma with
  Phi(D/(2s) - e*s/D) - exp(e) * Phi(-D/(2s) - e*s/D) <= delta for an L2 sensitivity D. It
  is valid for every epsilon > 0, and below the classic sigma = D sqrt(2 ln(1.25/delta))/e
  (Dwork and Roth 2014, Theorem A.1, which needs epsilon < 1).

>>> laplace_scale(1.0, 0.5)
2.0
>>> round(gaussian_sigma(1.0, 0.5, 1e-5), 3) <= round(classic_gaussian_sigma(1.0, 0.5, 1e-5), 3)
True
>>> gaussian_delta(1.0, 0.5, gaussian_sigma(1.0, 0.5, 1e-5)) <= 1e-5
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["laplace_scale", "gaussian_sigma", "classic_gaussian_sigma", "gaussian_delta",
           "add_noise"]


def laplace_scale(sensitivity: float, epsilon: float) -> float:
    return sensitivity / epsilon


def classic_gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    return sensitivity * math.sqrt(2 * math.log(1.25 / delta)) / epsilon


def gaussian_delta(sensitivity: float, epsilon: float, sigma: float) -> float:
    """The delta of the Gaussian mechanism with this sigma (Balle and Wang 2018, Thm 8)."""
    a = sensitivity / (2 * sigma)
    b = epsilon * sigma / sensitivity
    return _phi(a - b) - math.exp(epsilon) * _phi(-a - b)


def _phi(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def gaussian_sigma(sensitivity: float, epsilon: float, delta: float) -> float:
    """The analytic Gaussian mechanism's sigma, by bisection on `gaussian_delta`."""
    lo, hi = 1e-6 * sensitivity, classic_gaussian_sigma(sensitivity, min(epsilon, 0.999), delta)
    while gaussian_delta(sensitivity, epsilon, hi) > delta:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if gaussian_delta(sensitivity, epsilon, mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def add_noise(value: float | np.ndarray, mechanism: str, sensitivity: float, epsilon: float,
              delta: float, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """`value` plus the mechanism's noise, and the noise's parameters (scale or sigma)."""
    array = np.asarray(value, dtype=float)
    if mechanism == "laplace":
        scale = laplace_scale(sensitivity, epsilon)
        return array + rng.laplace(0.0, scale, size=array.shape), {"scale": scale}
    sigma = gaussian_sigma(sensitivity, epsilon, delta)
    return array + rng.normal(0.0, sigma, size=array.shape), {"sigma": sigma}
