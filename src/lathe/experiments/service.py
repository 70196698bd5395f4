"""Experiment verbs over files and plans (the API's `experiment_*` functions call these).

>>> import tempfile, os
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "ab.csv"
>>> _ = path.write_text("g,y\\n" + "a,0\\na,1\\nb,1\\nb,1\\n" * 50)
>>> out = analyze_file(path, variant="g", metrics=["y"], control="a")
>>> sorted(out), out["metrics"]["y"]["comparisons"]["b"]["test"]
(['decision', 'metrics', 'srm'], 'z')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lathe.errors import UsageError
from lathe.experiments.analysis import TESTS, analyze_outcomes, parse_split
from lathe.experiments.outcomes import read_outcomes

__all__ = ["analyze_file", "plan"]


def analyze_file(path: str | os.PathLike[str], *, variant: str, metrics: list[str],
                 control: str, test: str | None = None, split: str | None = None,
                 covariate: str | None = None, kind: str | None = None,
                 report: str | os.PathLike[str] | None = None,
                 alpha: float = 0.05) -> dict[str, Any]:
    """Analyse a CSV/Parquet of outcomes (one row per unit); optionally write the HTML report."""
    if not metrics:
        raise UsageError("no metric to analyse", hint="name one with --metric COL")
    if test is not None and test not in TESTS:
        raise UsageError(f"unknown test {test!r}", hint=f"choose one of {', '.join(TESTS)}")
    if kind is not None and kind not in ("proportion", "mean"):
        raise UsageError(f"unknown metric kind {kind!r}",
                         hint="use proportion or mean (a ratio is written num/den)")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is not between 0 and 1", hint="use e.g. 0.05")
    data = read_outcomes(path, variant=variant, metrics=metrics, covariate=covariate,
                         kinds={m: kind for m in metrics} if kind else None)
    arms = len(data.names)
    if control not in data.names:
        from lathe.errors import DataError

        raise DataError(f"{Path(path).name}: control variant {control!r} has no rows in column "
                        f"{variant!r}", hint="--control must be one of "
                        + ", ".join(repr(n) for n in data.names[:12]), column=variant)
    shares = parse_split(split, arms) if split is not None else None
    if test is not None:
        for m in data.metrics.values():
            if m.kind != "ratio":
                m.test = test
    result = analyze_outcomes(data.codes, data.names, data.metrics, control=control,
                              split=shares, covariate=data.covariate, alpha=alpha)
    if data.dropped:
        result["dropped_rows"] = data.dropped
    if report is not None:
        from lathe.experiments.report import write_report

        result["report"] = str(write_report(Path(report), result, source=Path(path).name))
    return result


def plan(metric_kind: str | None, *, baseline: float | None, mde: float | None,
         sd: float | None = None, power: float = 0.8, alpha: float = 0.05,
         n_per_arm: int | None = None) -> dict[str, Any]:
    """Units per arm (statsmodels' NormalIndPower) to detect an absolute lift `mde`; or, given
    `n_per_arm` instead of `mde`, the minimum detectable effect with that many units."""
    from lathe.experiments.stats import power as pw

    if metric_kind is None or (mde is None) == (n_per_arm is None):
        raise UsageError("plan needs --metric-kind and either --mde (for the sample size) or "
                         "--n-per-arm (for the minimum detectable effect)",
                         hint="e.g. lathe experiment plan --metric-kind proportion "
                         "--baseline 0.12 --mde 0.01")
    if n_per_arm is not None:
        return _mde(pw, metric_kind, baseline, sd, power, alpha, n_per_arm)
    if metric_kind not in pw.KINDS:
        raise UsageError(f"unknown --metric-kind {metric_kind!r}",
                         hint="use proportion or mean")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise UsageError("--power and --alpha must lie strictly between 0 and 1",
                         hint="e.g. --power 0.8 --alpha 0.05")
    if metric_kind == "mean" and (sd is None or not sd > 0):
        raise UsageError("a mean metric needs its standard deviation",
                         hint="pass --sd (the metric's standard deviation per unit)")
    if metric_kind == "proportion" and (baseline is None or not 0 < baseline < 1):
        raise UsageError(f"--baseline {baseline} is not a proportion in (0, 1)",
                         hint="pass the control's current rate, e.g. --baseline 0.12")
    if mde is None:  # exactly one of mde and n_per_arm is given (checked above)
        raise UsageError("plan needs --mde (for the sample size) or --n-per-arm")
    if mde == 0:
        raise UsageError("--mde 0 cannot be detected", hint="pass the smallest lift worth it")
    try:
        n = pw.sample_size_per_arm(metric_kind, baseline=baseline or 0.0, mde=mde, sd=sd,
                                   power=power, alpha=alpha)
    except ValueError as err:
        raise UsageError(str(err), hint="check --baseline, --mde and --sd") from None
    return {"metric_kind": metric_kind, "baseline": baseline, "mde": mde, "sd": sd,
            "power": power, "alpha": alpha, "per_arm": n, "total": 2 * n,
            "method": "statsmodels NormalIndPower" + (
                " with Cohen's h" if metric_kind == "proportion" else " with d = mde / sd")}


def _mde(pw: Any, kind: str, baseline: float | None, sd: float | None, power: float,
         alpha: float, n_per_arm: int) -> dict[str, Any]:
    if n_per_arm < 2:
        raise UsageError(f"--n-per-arm {n_per_arm} is too small", hint="pass at least 2 units")
    try:
        mde = pw.minimum_detectable_effect(kind, n_per_arm=n_per_arm, baseline=baseline, sd=sd,
                                           power=power, alpha=alpha)
    except ValueError as err:
        raise UsageError(str(err), hint="check --metric-kind, --baseline and --sd") from None
    return {"metric_kind": kind, "baseline": baseline, "sd": sd, "power": power,
            "alpha": alpha, "per_arm": n_per_arm, "mde": mde,
            "relative_mde": mde / baseline if baseline else None,
            "method": "statsmodels NormalIndPower"}
