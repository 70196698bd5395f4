"""Power, minimum detectable effect and sample size: statsmodels' ``NormalIndPower``.

Proportions use Cohen's h (``proportion_effectsize``: the arcsine difference), means the
standardised difference ``mde / sd``; both two-sided at equal arm sizes.

>>> sample_size_per_arm("proportion", baseline=0.12, mde=0.01)
17164
>>> round(minimum_detectable_effect("mean", n_per_arm=1000, sd=2.0), 4)
0.2506
"""

from __future__ import annotations

import math

__all__ = ["effect_size", "sample_size_per_arm", "minimum_detectable_effect", "power_at"]

KINDS = ("proportion", "mean")


def effect_size(kind: str, *, baseline: float, mde: float, sd: float | None = None) -> float:
    """The standardised effect of an absolute lift `mde` over `baseline`."""
    if kind == "proportion":
        from statsmodels.stats.proportion import proportion_effectsize

        if not 0 < baseline < 1 or not 0 < baseline + mde < 1:
            raise ValueError("a proportion's baseline and baseline + mde must lie in (0, 1)")
        return abs(float(proportion_effectsize(baseline + mde, baseline)))
    if kind == "mean":
        if sd is None or not sd > 0:
            raise ValueError("a mean metric needs its standard deviation (sd > 0)")
        return abs(mde) / sd
    raise ValueError(f"metric kind must be one of {KINDS}, not {kind!r}")


def sample_size_per_arm(kind: str, *, baseline: float, mde: float, sd: float | None = None,
                        power: float = 0.8, alpha: float = 0.05) -> int:
    """Units per arm to detect an absolute lift `mde` (rounded up)."""
    from statsmodels.stats.power import NormalIndPower

    es = effect_size(kind, baseline=baseline, mde=mde, sd=sd)
    if es == 0:
        raise ValueError("the minimum detectable effect must not be 0")
    n = NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=1.0,
                                     alternative="two-sided")
    return int(math.ceil(float(n)))


def power_at(kind: str, *, baseline: float, mde: float, n_per_arm: float,
             sd: float | None = None, alpha: float = 0.05) -> float:
    from statsmodels.stats.power import NormalIndPower

    es = effect_size(kind, baseline=baseline, mde=mde, sd=sd)
    return float(NormalIndPower().power(effect_size=es, nobs1=n_per_arm, alpha=alpha, ratio=1.0))


def minimum_detectable_effect(kind: str, *, n_per_arm: float, baseline: float | None = None,
                              sd: float | None = None, power: float = 0.8,
                              alpha: float = 0.05) -> float:
    """The smallest absolute lift detectable with `n_per_arm` units per arm."""
    from statsmodels.stats.power import NormalIndPower

    es = float(NormalIndPower().solve_power(effect_size=None, nobs1=n_per_arm, alpha=alpha,
                                            power=power, ratio=1.0, alternative="two-sided"))
    if kind == "mean":
        if sd is None or not sd > 0:
            raise ValueError("a mean metric needs its standard deviation (sd > 0)")
        return es * sd
    if kind == "proportion":
        if baseline is None or not 0 < baseline < 1:
            raise ValueError("a proportion's baseline must lie in (0, 1)")
        # invert Cohen's h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1)) for the upward lift
        angle = min(math.pi / 2, 2 * math.asin(math.sqrt(baseline)) / 2 + es / 2)
        return math.sin(angle) ** 2 - baseline
    raise ValueError(f"metric kind must be one of {KINDS}, not {kind!r}")
