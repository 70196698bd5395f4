"""Metrics per slice (one value of a column, numbers binned), with confidence intervals and
support, and the worst slices found with a multiple-testing correction.

A slice is `column = value`; numeric columns with many values are cut at their quartiles,
missing values form their own slice `(missing)`, and `language` (when DATA has no such
column) is the language detected per row of the model's text columns (`language.py`).

Intervals: Wilson's score interval for accuracy (right at 0 and 1, unlike the normal one);
Student's t interval for the mean absolute error of a regression slice.

Worst slices: every slice with at least `min_support` rows (and the crossing of two `by`
columns) is tested against the rest of the rows — one-sided Fisher exact test on errors for
classification, Welch's t-test on absolute errors for regression — and the p-values are
adjusted with Benjamini-Hochberg (false discovery rate `alpha`). Slices whose adjusted p is
below `alpha` are listed first, worst effect first.

>>> import numpy as np
>>> lo, hi = wilson_interval(45, 50)
>>> round(lo, 3), round(hi, 3)
(0.786, 0.957)
>>> import pandas as pd
>>> sorted(set(bin_column(pd.Series([*range(20), None]))))
['(missing)', '[0, 4.75)', '[14.25, 19]', '[4.75, 9.5)', '[9.5, 14.25)']
>>> sorted(set(bin_column(pd.Series([0] * 200 + list(range(1, 41))))))
['0', '[1, 14)', '[14, 27)', '[27, 40]']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import DataError, did_you_mean
from lathe.validation._scored import Scored

__all__ = ["slice_metrics", "worst_slices", "wilson_interval", "bin_column", "slice_keys",
           "LANGUAGE"]

LANGUAGE = "language"
MISSING = "(missing)"
MAX_VALUES = 50  # a column with more distinct values than this is binned or cut to the top


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at p = 0 or 1 the bound equals p exactly, up to rounding: keep p inside its interval
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def bin_column(values: pd.Series, bins: int = 4) -> pd.Series:
    """Slice labels for a column: numbers with more than `bins * 3` values cut at quantiles
    (`[lo, hi)`, the last bin closed), everything else as text; missing -> `(missing)`."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > bins * 3:
        number = values.to_numpy(dtype=float)
        labels = pd.Series(_quantile_labels(number, bins), index=values.index, dtype=object)
        if labels[values.notna()].nunique() < 2:
            # one value dominates (capital gains: mostly 0): it alone, the rest in quantiles
            mode = float(values.mode().iloc[0])
            rest = values.notna().to_numpy() & (number != mode)
            labels[rest] = _quantile_labels(number[rest], bins - 1)
            labels[number == mode] = _fmt(mode)
    else:
        labels = values.astype(object).map(str)
        if labels.nunique() > MAX_VALUES:
            top = set(labels.value_counts().index[:MAX_VALUES - 1])
            labels = labels.where(labels.isin(top), "(other)")
    return labels.where(values.notna(), MISSING)


def _quantile_labels(number: np.ndarray, bins: int) -> list[str]:
    edges = np.unique(np.nanquantile(number, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return [_fmt(edges[0])] * len(number)
    which = np.clip(np.searchsorted(edges, number, side="right") - 1, 0, len(edges) - 2)
    names = [f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}"
             + ("]" if i == len(edges) - 2 else ")") for i in range(len(edges) - 1)]
    return [names[w] for w in which]


def slice_keys(scored: Scored, column: str, text_columns: list[str]) -> pd.Series:
    """The slice label of every row for `column` (`language` is detected when DATA has no
    such column); a column DATA lacks, or with one value only, is one clear error."""
    frame = scored.frame
    if column not in frame.columns:
        if column == LANGUAGE and text_columns:
            from lathe.validation.language import detect_languages, text_of_rows

            keys = pd.Series(detect_languages(text_of_rows(frame, text_columns)),
                             index=frame.index, dtype=object)
            return _two_values(keys, scored.source, column)
        hint = did_you_mean(column, [str(c) for c in frame.columns]) or (
            "choose columns of DATA" + (" (or `language` for text)" if text_columns else ""))
        raise DataError(f"{scored.source} has no column {column!r} to slice by",
                        hint=hint, column=column)
    return _two_values(bin_column(frame[column]), scored.source, column)


def _two_values(keys: pd.Series, source: str, column: str) -> pd.Series:
    if keys.nunique() < 2:
        raise DataError(f"{source}: slice column {column!r} has one value only "
                        f"({keys.iloc[0]!r}): there is nothing to compare",
                        hint="slice by a column with at least two values", column=column)
    return keys


def _slice_stats(scored: Scored, mask: np.ndarray) -> dict[str, Any]:
    n = int(mask.sum())
    out: dict[str, Any] = {"n": n}
    if scored.is_classification:
        hits = int(scored.correct[mask].sum())
        lo, hi = wilson_interval(hits, n)
        out.update(accuracy=hits / n, accuracy_ci=[lo, hi], error_rate=1 - hits / n)
        if scored.positive is not None:
            y, p = scored.y[mask] == scored.positive, scored.pred[mask] == scored.positive
            out["selection_rate"] = float(p.mean())
            out["recall"] = float(p[y].mean()) if y.any() else None
            if y.any() and not y.all():
                from sklearn.metrics import roc_auc_score

                out["roc_auc"] = float(roc_auc_score(y, scored.raw[mask][:, scored.positive]))
    else:
        err = np.abs(scored.pred[mask] - scored.y[mask].astype(float))
        mae = float(err.mean())
        half = math.nan
        if n > 1:
            from scipy.stats import t

            half = float(t.ppf(0.975, n - 1) * err.std(ddof=1) / math.sqrt(n))
        out.update(mae=mae, mae_ci=[mae - half, mae + half],
                   rmse=float(np.sqrt(np.mean(err ** 2))))
    return out


def slice_metrics(scored: Scored, keys: pd.Series) -> dict[str, dict[str, Any]]:
    """Metrics of every slice of one column, largest first."""
    out: dict[str, dict[str, Any]] = {}
    for value, count in keys.value_counts().items():
        out[str(value)] = _slice_stats(scored, (keys == value).to_numpy()) | {"n": int(count)}
    return out


def _p_value(scored: Scored, mask: np.ndarray) -> tuple[float, float]:
    """(p, effect): is the error in the slice above the rest's? effect = slice - rest."""
    if scored.is_classification:
        from scipy.stats import fisher_exact

        wrong = ~scored.correct
        a, b = int(wrong[mask].sum()), int((~wrong[mask]).sum())
        c, d = int(wrong[~mask].sum()), int((~wrong[~mask]).sum())
        effect = a / max(a + b, 1) - c / max(c + d, 1)
        return float(fisher_exact([[a, b], [c, d]], alternative="greater")[1]), effect
    from scipy.stats import ttest_ind

    err = np.abs(scored.pred - scored.y.astype(float))
    effect = float(err[mask].mean() - err[~mask].mean())
    if mask.sum() < 2 or (~mask).sum() < 2:
        return 1.0, effect
    p = ttest_ind(err[mask], err[~mask], equal_var=False, alternative="greater").pvalue
    return (1.0 if math.isnan(p) else float(p)), effect


def worst_slices(scored: Scored, keyed: dict[str, pd.Series], *, alpha: float = 0.05,
                 min_support: int = 30, crossed: bool = True) -> dict[str, Any]:
    """Slices significantly worse than the rest (Benjamini-Hochberg at `alpha`), worst first.

    `keyed` maps column -> slice labels; with `crossed`, pairs of columns are tested too.
    """
    from scipy.stats import false_discovery_control

    candidates: list[tuple[dict[str, str], np.ndarray]] = []
    columns = list(keyed)
    for col in columns:
        for value in keyed[col].unique():
            candidates.append(({col: str(value)}, (keyed[col] == value).to_numpy()))
    if crossed:
        for i, a in enumerate(columns):
            for b in columns[i + 1:]:
                pairs = keyed[a].astype(str) + "\x1f" + keyed[b].astype(str)
                for value in pairs.unique():
                    va, vb = value.split("\x1f")
                    candidates.append(({a: va, b: vb}, (pairs == value).to_numpy()))
    n_rows = len(scored.y)
    tested = [(s, m) for s, m in candidates if min_support <= m.sum() < n_rows]
    if not tested:
        return {"tested": 0, "alpha": alpha, "correction": "benjamini-hochberg", "slices": []}
    results = [_p_value(scored, m) for _, m in tested]
    adjusted = false_discovery_control([p for p, _ in results], method="bh")
    found: list[dict[str, Any]] = []
    for (where, mask), (p, effect), q in zip(tested, results, adjusted, strict=True):
        if q < alpha and effect > 0:
            found.append({"slice": where, "n": int(mask.sum()), "p_value": p,
                          "p_adjusted": float(q), "error_above_rest": effect}
                         | _slice_stats(scored, mask))
    found.sort(key=lambda s: (-float(s["error_above_rest"]), float(s["p_adjusted"])))
    return {"tested": len(tested), "alpha": alpha, "correction": "benjamini-hochberg",
            "min_support": min_support, "slices": found}
