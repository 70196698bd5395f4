"""Pure metric functions: labels and predictions in, plain numbers and lists out.

For a binary label, plain `precision`, `recall` and `f1` are those of the positive class
(scikit-learn's `average="binary"`), named in `positive_class`: the second of the classes
(sorted at training time) unless the model declares another. `_macro` and `_weighted` average
over the classes. For a multiclass label the plain names are the macro averages.

>>> import numpy as np
>>> m = classification_metrics(np.array([0, 1, 1, 0]),
...                            np.array([[.9, .1], [.2, .8], [.6, .4], [.7, .3]]), ["no", "yes"])
>>> m["accuracy"], m["roc_auc"], m["confusion_matrix"]
(0.75, 1.0, [[2, 0], [1, 1]])
>>> m["positive_class"], m["precision"], m["recall"], round(m["f1_macro"], 4)
('yes', 1.0, 0.5, 0.7333)
>>> regression_metrics(np.array([1.0, 2.0]), np.array([1.0, 4.0]))["mae"]
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "classification_metrics",
    "regression_metrics",
    "calibration_table",
    "primary_metric",
    "primary_score",
    "compute_metrics",
    "catch_all_metrics",
    "higher_is_better",
]

PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}


def primary_metric(task: str) -> str:
    return PRIMARY[task]


def higher_is_better(metric: str) -> bool:
    return metric not in ("rmse", "mae", "log_loss", "brier")


def primary_score(task: str, y_true: np.ndarray, raw: np.ndarray, *,
                  oriented: bool = False) -> float:
    """The task's primary metric (`primary_metric`: roc_auc, accuracy or rmse), computed
    directly and fast: the one number tuning optimises, blends weigh members by and
    permutation importance watches. Binary labels of one class only have no AUC: accuracy
    stands in, as in `compute_metrics`. With `oriented`, higher is always better (rmse is
    negated), for code that maximises.

    >>> primary_score("binary", np.array([0, 1, 1]), np.array([[.9, .1], [.2, .8], [.4, .6]]))
    1.0
    >>> round(primary_score("regression", np.array([1.0, 3.0]), np.array([1.0, 1.0]),
    ...                     oriented=True), 4)
    -1.4142
    """
    y_true = np.asarray(y_true)
    if task == "regression":
        value = float(np.sqrt(np.mean((np.asarray(raw, dtype=float).ravel() - y_true) ** 2)))
    elif task == "binary" and len(np.unique(y_true)) > 1:
        value = float(skm.roc_auc_score(y_true, np.asarray(raw)[:, 1]))
    else:
        value = float(np.mean(np.asarray(raw).argmax(axis=1) == y_true))
    return value if not oriented or higher_is_better(primary_metric(task)) else -value


def _clip_proba(proba: np.ndarray) -> np.ndarray:
    proba = np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)
    return proba / proba.sum(axis=1, keepdims=True)


def calibration_table(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability of the top-class probability: per bin, mean confidence vs accuracy, and ECE."""
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        ece += mask.mean() * abs(conf - acc)
        rows.append(
            {
                "bin": [float(edges[b]), float(edges[b + 1])],
                "count": int(mask.sum()),
                "confidence": conf,
                "accuracy": acc,
            }
        )
    return {"bins": rows, "ece": float(ece)}


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: list[Any], positive: int | None = None
) -> dict[str, Any]:
    """Every classification metric; `positive` is the binary positive class's index (default 1)."""
    y_true = np.asarray(y_true, dtype=int)
    proba = _clip_proba(proba)
    k = len(classes)
    labels = list(range(k))
    y_pred = proba.argmax(axis=1)
    out: dict[str, Any] = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        out[f"precision_{average}"], out[f"recall_{average}"], out[f"f1_{average}"] = (
            float(p),
            float(r),
            float(f),
        )
    pos = (1 if positive is None else int(positive)) if k == 2 else None
    if pos is None:
        out["precision"], out["recall"], out["f1"] = (
            out["precision_macro"], out["recall_macro"], out["f1_macro"])
    else:
        if pos not in (0, 1):
            raise ValueError(f"positive class index {pos} is not 0 or 1")
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, pos_label=pos, average="binary", zero_division=0)
        out["precision"], out["recall"], out["f1"] = float(p), float(r), float(f)
        out["positive_class"] = str(classes[pos]) if len(classes) == 2 else str(pos)
    present = np.unique(y_true)
    if len(present) < 2:
        out["roc_auc"] = None
    elif pos is not None:
        hit = (y_true == pos).astype(int)
        out["roc_auc"] = float(skm.roc_auc_score(hit, proba[:, pos]))
        out["average_precision"] = float(skm.average_precision_score(hit, proba[:, pos]))
        out["brier"] = float(np.mean((proba[:, pos] - hit) ** 2))
    else:
        # one-vs-rest macro over the classes present in y_true
        aucs = [skm.roc_auc_score(y_true == c, proba[:, c]) for c in present]
        out["roc_auc"] = float(np.mean(aucs))
    out["log_loss"] = float(skm.log_loss(y_true, proba, labels=labels))
    out["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    out["per_class"] = [
        {
            "class": str(c),
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(classes)
    ]
    out["calibration"] = calibration_table(y_true, proba)
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else None,
        "median_absolute_error": float(skm.median_absolute_error(y_true, y_pred)),
    }


def catch_all_metrics(y_true: np.ndarray, y_pred: np.ndarray, catch_all: int,
                      classes: list[Any]) -> dict[str, Any]:
    """How a model with a catch-all label ("oos") does on both sides of it.

    >>> catch_all_metrics(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 0]), 2, ["a", "b", "oos"])
    {'label': 'oos', 'in_scope_accuracy': 0.5, 'recall': 0.5, 'precision': 0.5, 'in_scope_rows': 2, 'catch_all_rows': 2}
    """
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    inside, outside, said = y_true != catch_all, y_true == catch_all, y_pred == catch_all
    return {
        "label": str(classes[catch_all]),
        "in_scope_accuracy": float((y_pred[inside] == y_true[inside]).mean()) if inside.any() else None,
        "recall": float(said[outside].mean()) if outside.any() else None,
        "precision": float(outside[said].mean()) if said.any() else None,
        "in_scope_rows": int(inside.sum()),
        "catch_all_rows": int(outside.sum()),
    }


def compute_metrics(
    task: str, y_true: np.ndarray, raw: np.ndarray, classes: list[Any] | None,
    catch_all: int | None = None, positive: int | None = None,
) -> dict[str, Any]:
    """Every metric of the task; with a catch-all class index, also `catch_all_metrics`.

    `positive` is the binary positive class's index (`Schema.positive_index`; default 1).
    """
    if task == "regression":
        return regression_metrics(y_true, raw)
    out = classification_metrics(y_true, raw, list(classes or []), positive)
    if catch_all is not None:
        out["catch_all"] = catch_all_metrics(y_true, _clip_proba(raw).argmax(axis=1), catch_all,
                                             list(classes or []))
    return out
