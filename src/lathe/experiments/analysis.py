"""Analyse an experiment's outcomes: arrays in, one JSON-ready dict out.

`analyze_outcomes` takes the variant of every unit (integer codes and their names), one or
more metrics, the control's name and the planned split, and returns::

    {"srm": {...}, "metrics": {name: {"kind", "variants": {...}, "comparisons": {...}}},
     "decision": {...}}

Comparisons are treatment minus control. ``ci`` is the interval of that difference (Newcombe
for the z-test, Welch's t interval, a bootstrap for Mann-Whitney, the delta method for ratio
metrics); ``lift`` is the relative change ``mean_t / mean_c - 1`` with a delta-method
``lift_ci``. ``p_adjusted`` is Holm's over every comparison of every metric; the decision
reads it. ``sequential`` holds the always-valid p-value and confidence sequence over looks
at evenly spaced points of the rows' order (their arrival order).

>>> import numpy as np
>>> codes = np.array([0, 1] * 500); values = np.r_[np.zeros(500), np.ones(500)][np.arange(1000) % 2 * 500 + np.arange(1000) // 2]
>>> out = analyze_outcomes(codes, ["a", "b"], {"m": Metric(values, "proportion")}, control="a")
>>> out["metrics"]["m"]["comparisons"]["b"]["test"], out["srm"]["mismatch"]
('z', False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lathe.errors import DataError, UsageError
from lathe.experiments.decision import decide
from lathe.experiments.stats import bootstrap, means, proportions, sequential
from lathe.experiments.stats.cuped import cuped_adjust
from lathe.experiments.stats.multiple import holm
from lathe.experiments.stats.srm import srm_test

__all__ = ["Metric", "TESTS", "KINDS", "analyze_outcomes", "parse_split"]

TESTS = ("z", "welch", "mann-whitney")
KINDS = ("proportion", "mean", "ratio")
LOOKS = 20


@dataclass
class Metric:
    """One metric's value per unit; `denominator` makes it a ratio metric."""

    values: np.ndarray
    kind: str
    denominator: np.ndarray | None = None
    test: str | None = None  # None: the kind picks (proportion -> z, mean -> welch)


def parse_split(text: str | None, arms: int) -> list[float]:
    """'50/50' -> [0.5, 0.5]; None -> equal shares. Shares must sum to 100.

    >>> parse_split("10/90", 2)
    [0.1, 0.9]
    """
    if text is None:
        return [1.0 / arms] * arms
    try:
        parts = [float(p) for p in text.replace(",", "/").split("/")]
    except ValueError:
        raise UsageError(f"--split {text!r} is not numbers separated by '/'",
                         hint="write the planned percentages, e.g. --split 50/50") from None
    if any(p < 0 or not math.isfinite(p) for p in parts) or abs(sum(parts) - 100) > 1e-6:
        raise UsageError(f"--split {text!r} sums to {sum(parts):g}, not 100",
                         hint="give one percentage per variant summing to 100, e.g. 50/50")
    if len(parts) != arms:
        raise UsageError(f"--split {text!r} has {len(parts)} shares but the data has {arms} "
                         "variants", hint="give one share per variant, control first")
    return [p / 100 for p in parts]


def analyze_outcomes(codes: np.ndarray, names: Sequence[str], metrics: dict[str, Metric], *,
                     control: str, split: Sequence[float] | None = None,
                     covariate: np.ndarray | None = None, alpha: float = 0.05,
                     bootstrap_resamples: int = 2000) -> dict:
    """The whole analysis; `codes[i]` indexes `names` (the variant of row i)."""
    names = [str(n) for n in names]
    if control not in names:
        raise DataError(f"control variant {control!r} has no rows",
                        hint=f"--control must be one of {', '.join(map(repr, names))}")
    counts = np.bincount(codes, minlength=len(names))
    order = [names.index(control)] + [i for i in sorted(range(len(names)),
                                                         key=lambda i: names[i])
                                      if names[i] != control]
    empty = [names[i] for i in order if counts[i] == 0]
    if empty:
        raise DataError(f"variant {empty[0]!r} has no rows",
                        hint="check the variant column and --control")
    if len(order) < 2:
        raise DataError(f"only one variant ({control!r}) has rows; nothing to compare",
                        hint="check the variant column")
    shares = list(split) if split is not None else [1.0 / len(order)] * len(order)
    srm = srm_test([int(counts[i]) for i in order], shares)
    result: dict = {
        "srm": {"p_value": srm.p_value, "mismatch": srm.mismatch, "statistic": srm.statistic,
                "counts": {names[i]: int(counts[i]) for i in order},
                "expected": dict(zip([names[i] for i in order], srm.expected, strict=True))},
        "metrics": {},
    }
    for metric_name, metric in metrics.items():
        result["metrics"][metric_name] = _analyze_metric(
            codes, names, order, metric, covariate, alpha, bootstrap_resamples)
    _adjust(result["metrics"], alpha)
    result["decision"] = decide(result, alpha=alpha)
    return result


def _arm(codes: np.ndarray, index: int, values: np.ndarray) -> np.ndarray:
    return values[codes == index]


def _analyze_metric(codes: np.ndarray, names: list[str], order: list[int], metric: Metric,
                    covariate: np.ndarray | None, alpha: float, resamples: int) -> dict:
    kind = metric.kind
    test = metric.test or {"proportion": "z", "mean": "welch", "ratio": "delta"}[kind]
    if kind == "ratio" and metric.test not in (None, "delta"):
        raise UsageError(f"a ratio metric is tested with the delta method, not --test {test}",
                         hint="drop --test for ratio metrics")
    if covariate is not None and test != "welch":
        if metric.test is not None or kind == "ratio":
            raise UsageError(f"--covariate (CUPED) adjusts a mean for Welch's test, not {test}",
                             hint="drop --test or use --test welch with --covariate")
        test = "welch"
    values = metric.values
    out: dict = {"kind": kind, "test": test, "variants": {}, "comparisons": {}}
    cuped = None
    if covariate is not None:
        values, theta = cuped_adjust(values, covariate)
        raw_var, adj_var = float(metric.values.var()), float(values.var())
        cuped = {"theta": theta,
                 "variance_reduction": 1 - adj_var / raw_var if raw_var > 0 else 0.0}
        out["cuped"] = cuped
    arms = {i: _arm(codes, i, values) for i in order}
    dens = ({i: _arm(codes, i, metric.denominator) for i in order}
            if metric.denominator is not None else None)
    summaries = {}
    for i in order:
        summaries[i] = _variant(arms[i], dens[i] if dens else None, kind, alpha)
        out["variants"][names[i]] = summaries[i]
    c = order[0]
    for t in order[1:]:
        comp = _compare(arms[t], arms[c], dens[t] if dens else None, dens[c] if dens else None,
                        kind, test, alpha, resamples)
        comp["sequential"] = _sequential(arms[t], arms[c], kind,
                                         dens[t] if dens else None, dens[c] if dens else None,
                                         alpha)
        out["comparisons"][names[t]] = comp
    return out


def _variant(x: np.ndarray, den: np.ndarray | None, kind: str, alpha: float) -> dict:
    if kind == "ratio":
        if den is None:
            raise DataError("a ratio metric needs its denominator per variant",
                            hint="give the metric a denominator column")
        r = means.summarize_ratio(x, den)
        half = _zq(alpha) * math.sqrt(r.variance) if r.variance == r.variance else float("nan")
        return {"n": r.n, "mean": r.ratio, "variance": r.variance * r.n,
                "ci": [r.ratio - half, r.ratio + half],
                "numerator": float(x.sum()), "denominator": float(den.sum())}
    s = means.summarize(x)
    row: dict[str, Any] = {"n": s.n, "mean": s.mean, "variance": s.variance}
    if kind == "proportion":
        successes = int(round(float(x.sum())))
        row["successes"] = successes
        row["ci"] = list(proportions.wilson_interval(successes, s.n, alpha))
    else:
        row["ci"] = list(s.interval(alpha))
    return row


def _zq(alpha: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(1 - alpha / 2))


def _compare(xt: np.ndarray, xc: np.ndarray, dt: np.ndarray | None, dc: np.ndarray | None,
             kind: str, test: str, alpha: float, resamples: int) -> dict:
    st, sc = means.summarize(xt), means.summarize(xc)
    out: dict
    if kind == "ratio":
        if dt is None or dc is None:
            raise DataError("a ratio metric needs its denominator per variant",
                            hint="give the metric a denominator column")
        rt, rc = means.summarize_ratio(xt, dt), means.summarize_ratio(xc, dc)
        res = means.ratio_test(rt, rc, alpha)
        lift, lift_ci = means.relative_lift(rt.ratio, rt.variance, rc.ratio, rc.variance, alpha)
        return {"test": "delta", "statistic": res.statistic, "p_value": res.p_value,
                "ci": list(res.ci), "difference": res.difference, "lift": lift,
                "lift_ci": list(lift_ci)}
    if test == "z":
        if not _binary(xt) or not _binary(xc):
            raise DataError("the z-test compares proportions but the metric has values other "
                            "than 0/1", hint="use --test welch for a numeric metric")
        kt, kc = int(xt.sum()), int(xc.sum())
        z = proportions.ztest_pooled(kt, st.n, kc, sc.n)
        out = {"test": "z", "statistic": z.statistic, "p_value": z.p_value,
               "ci": list(proportions.newcombe_interval(kt, st.n, kc, sc.n, alpha)),
               "difference": z.difference,
               "prob_beat_control": proportions.prob_beat_control(kt, st.n, kc, sc.n)}
    elif test == "welch":
        if st.n < 2 or sc.n < 2:
            raise DataError("Welch's test needs at least two rows in each variant",
                            hint="collect more outcomes")
        w = means.welch(st, sc, alpha)
        out = {"test": "welch", "statistic": w.statistic, "p_value": w.p_value,
               "ci": list(w.ci), "difference": w.difference, "df": w.df}
    elif test == "mann-whitney":
        u, p = means.mann_whitney(xt, xc)
        ci, method = bootstrap.bootstrap_diff_interval(xt, xc, alpha=alpha, resamples=resamples)
        out = {"test": "mann-whitney", "statistic": u, "p_value": p, "ci": list(ci),
               "difference": st.mean - sc.mean, "ci_method": f"{method} (difference in means)"}
    else:
        raise UsageError(f"unknown test {test!r}", hint=f"choose one of {', '.join(TESTS)}")
    lift, lift_ci = means.relative_lift(st.mean, st.variance / st.n, sc.mean,
                                        sc.variance / sc.n, alpha)
    out["lift"] = lift
    out["lift_ci"] = list(lift_ci)
    if kind == "proportion" and test != "z":
        kt, kc = int(xt.sum()), int(xc.sum())
        if _binary(xt) and _binary(xc):
            out["prob_beat_control"] = proportions.prob_beat_control(kt, st.n, kc, sc.n)
    return out


def _binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _looks(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n, LOOKS + 1)[1:].astype(int))


def _sequential(xt: np.ndarray, xc: np.ndarray, kind: str, dt: np.ndarray | None,
                dc: np.ndarray | None, alpha: float) -> dict:
    """mSPRT over LOOKS cumulative looks (arrival order); the last look is the answer."""
    looks_t, looks_c = _looks(xt.size), _looks(xc.size)
    k = min(looks_t.size, looks_c.size)
    looks_t, looks_c = looks_t[-k:], looks_c[-k:]
    if kind == "ratio" and (dt is None or dc is None):
        raise DataError("a ratio metric needs its denominator per variant",
                        hint="give the metric a denominator column")
    history: list[dict[str, Any]] = []
    for nt, nc in zip(looks_t, looks_c, strict=True):
        if nt < 2 or nc < 2:
            continue
        if dt is not None and dc is not None and kind == "ratio":
            rt = means.summarize_ratio(xt[:nt], dt[:nt])
            rc = means.summarize_ratio(xc[:nc], dc[:nc])
            diff, var_diff = rt.ratio - rc.ratio, rt.variance + rc.variance
        else:
            a, b = xt[:nt], xc[:nc]
            diff = float(a.mean() - b.mean())
            var_diff = float(a.var(ddof=1)) / nt + float(b.var(ddof=1)) / nc
        total = int(nt + nc)
        s2 = var_diff * total
        p = sequential.always_valid_p(diff=diff, var_diff=var_diff, s2=s2, alpha=alpha)
        half = sequential.halfwidth(var_diff=var_diff, s2=s2, alpha=alpha)
        history.append({"n": total, "difference": diff, "p_value": p,
                        "ci": [diff - half, diff + half],
                        "fixed_ci": [diff - _zq(alpha) * math.sqrt(var_diff),
                                     diff + _zq(alpha) * math.sqrt(var_diff)]})
    running = sequential.running_p([h["p_value"] for h in history])
    for h, p in zip(history, running, strict=True):
        h["p_value"] = p
    last: dict[str, Any] = (history[-1] if history
                            else {"p_value": float("nan"), "ci": [float("nan")] * 2})
    return {"method": "mSPRT", "p_value": last["p_value"], "ci": last["ci"],
            "significant": bool(last["p_value"] < alpha), "looks": history}


def _adjust(metrics: dict, alpha: float) -> None:
    refs = [(m, v) for m, block in metrics.items() for v in block["comparisons"]]
    adjusted = holm([metrics[m]["comparisons"][v]["p_value"] for m, v in refs])
    for (m, v), p in zip(refs, adjusted, strict=True):
        comp = metrics[m]["comparisons"][v]
        comp["p_adjusted"] = p
        comp["significant"] = bool(p < alpha)
