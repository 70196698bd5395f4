"""Group fairness of a binary classifier: Fairlearn's MetricFrame group metrics and the
demographic-parity and equalized-odds differences and ratios, per sensitive column.

Rates are for the positive class: the second of the sorted class labels unless the model
declares another (`Schema.positive_index`). Predictions follow the model's own decision rule
(a saved threshold included). Every group counts, as in Fairlearn; a sensitive column with
many numeric values is cut at its quartiles (`slices.bin_column`), missing values form the
group `(missing)`.

Fairlearn (the `validation` extra) computes the numbers when installed; otherwise the same
definitions run on scikit-learn per group (`engine` says which). The two agree to 1e-12
(`bench/validation.py` checks on Adult).

>>> import numpy as np
>>> y = np.array([1, 1, 0, 0, 1, 0, 1, 0]); p = np.array([1, 0, 0, 1, 1, 0, 1, 1])
>>> g = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
>>> out = group_fairness(y, p, g, engine="sklearn")
>>> out["groups"]["a"]["selection_rate"], out["groups"]["b"]["tpr"]
(0.5, 1.0)
>>> out["demographic_parity_difference"], out["equalized_odds_difference"]
(0.25, 0.5)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lathe.errors import UsageError
from lathe.validation._scored import Scored
from lathe.validation.slices import bin_column

__all__ = ["group_fairness", "fairness_report", "fairness_engine", "DEFAULT_THRESHOLDS"]

DEFAULT_THRESHOLDS = {"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.1}


def fairness_engine() -> str:
    """'fairlearn X.Y' when Fairlearn is installed, else 'sklearn'."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return f"fairlearn {version('fairlearn')}"
    except PackageNotFoundError:
        return "sklearn"


def _rate(hits: np.ndarray) -> float:
    return float(hits.mean()) if hits.size else float("nan")


def _sklearn_groups(y: np.ndarray, p: np.ndarray, g: np.ndarray) -> dict[str, dict[str, Any]]:
    from sklearn.metrics import accuracy_score

    out = {}
    for value in sorted(set(g.tolist()), key=str):
        m = g == value
        yt, yp = y[m], p[m]
        out[str(value)] = {"selection_rate": _rate(yp == 1), "tpr": _rate(yp[yt == 1] == 1),
                           "fpr": _rate(yp[yt == 0] == 1),
                           "accuracy": float(accuracy_score(yt, yp)), "n": int(m.sum())}
    return out


def _fairlearn_groups(y: np.ndarray, p: np.ndarray, g: np.ndarray) -> dict[str, dict[str, Any]]:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    with warnings.catch_warnings():
        # a group without positives (or negatives) has no TPR (FPR): NaN, as scikit-learn's
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                     "fpr": false_positive_rate, "accuracy": accuracy_score, "n": count},
            y_true=y, y_pred=p, sensitive_features=np.asarray(g, dtype=str))
        table = frame.by_group
    out = {}
    for value, row in table.iterrows():
        out[str(value)] = {k: (int(row[k]) if k == "n" else float(row[k])) for k in table.columns}
    return out


def _spread(values: list[float]) -> tuple[float, float]:
    """(max - min, min / max) over the finite values; NaN when fewer than two."""
    finite = [v for v in values if np.isfinite(v)]
    if len(finite) < 2:
        return float("nan"), float("nan")
    hi, lo = max(finite), min(finite)
    return hi - lo, (lo / hi if hi > 0 else 1.0)


def group_fairness(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
                   engine: str = "auto") -> dict[str, Any]:
    """Group metrics, demographic-parity and equalized-odds differences and ratios.

    `y_true` and `y_pred` are 1 for the positive class, 0 otherwise. Equalized odds take the
    worse of the TPR and FPR spreads (Fairlearn's `agg="worst_case"`).
    """
    y, p, g = (np.asarray(a) for a in (y_true, y_pred, groups))
    use = fairness_engine() if engine == "auto" else engine
    table = _fairlearn_groups(y, p, g) if use.startswith("fairlearn") else _sklearn_groups(y, p, g)
    rows = list(table.values())
    dp_diff, dp_ratio = _spread([r["selection_rate"] for r in rows])
    tpr_diff, tpr_ratio = _spread([r["tpr"] for r in rows])
    fpr_diff, fpr_ratio = _spread([r["fpr"] for r in rows])
    return {"groups": table,
            "demographic_parity_difference": dp_diff, "demographic_parity_ratio": dp_ratio,
            "equalized_odds_difference": max(tpr_diff, fpr_diff),
            "equalized_odds_ratio": min(tpr_ratio, fpr_ratio),
            "true_positive_rate_difference": tpr_diff, "false_positive_rate_difference": fpr_diff}


def sensitive_groups(scored: Scored, column: str) -> np.ndarray:
    """Group labels of `column` per row; a column DATA lacks is one clear error."""
    from lathe.errors import DataError, did_you_mean

    if column not in scored.frame.columns:
        columns = [str(c) for c in scored.frame.columns]
        raise DataError(f"{scored.source} has no sensitive column {column!r}",
                        hint=did_you_mean(column, columns) or
                        "--sensitive names columns of DATA, e.g. " + ",".join(columns[:3]),
                        column=column)
    return bin_column(scored.frame[column]).to_numpy(dtype=str)


def fairness_report(scored: Scored, sensitive: list[str],
                    thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """`{column: group_fairness(...) + engine}` for a binary model, plus `checks`."""
    if scored.task != "binary" or scored.positive is None:
        raise UsageError(f"fairness needs a binary classifier (selection rate, TPR and FPR of "
                         f"the positive class); this model's task is {scored.task}",
                         hint="run another suite, e.g. --suite default")
    if not sensitive:
        raise UsageError("the fairness suite needs --sensitive COLUMNS",
                         hint="e.g. --sensitive sex,race")
    limits = DEFAULT_THRESHOLDS | (thresholds or {})
    y = (scored.y == scored.positive).astype(int)
    p = (scored.pred == scored.positive).astype(int)
    out: dict[str, Any] = {}
    checks = []
    engine = fairness_engine()
    for column in sensitive:
        result = group_fairness(y, p, sensitive_groups(scored, column), engine=engine)
        result["engine"] = engine
        result["positive_class"] = scored.positive_label
        out[column] = result
        for metric, limit in limits.items():
            value = result.get(metric)
            if value is None:
                continue
            ok = bool(np.isfinite(value) and value <= limit)
            checks.append({"name": f"fairness.{column}.{metric}", "passed": ok,
                           "value": value, "threshold": limit,
                           "message": f"{metric} over {column} = {value:.4f} "
                                      f"({'≤' if ok else '>'} {limit:g})"})
    return {"fairness": out, "checks": checks}
