"""Value: what each outcome is worth, expected value per prediction, the best threshold, ROI.

A value matrix V (rows: the actual class, columns: the predicted class, in the model's class
order) says what one prediction earns; the expected value per prediction on labelled rows is
sum(C * V) / sum(C) for their confusion matrix C. Ways to write V:

* `correct=0.40,wrong=-2.0` (every correct answer / every mistake);
* YAML `{correct: 0.4, wrong: -2.0}`; binary `{tp: 1, fp: -1, tn: 0, fn: -5}` (positive = the
  second class, as in `lathe evaluate`); per class
  `{classes: {fraud: {correct: 50, wrong: -500}}, correct: 0.1, wrong: -0.5}` (a mistake is
  charged by its actual class); or a full `{matrix: {actual: {predicted: value}}}`.

>>> V = value_matrix({"correct": 1.0, "wrong": -2.0}, ["a", "b"])
>>> expected_value([[8, 2], [1, 9]], V)
0.55
>>> best_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], value_matrix(
...     {"tp": 1, "fp": -1, "tn": 0, "fn": -5}, ["no", "yes"]))["threshold"]
0.4
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lathe.errors import ConfigError, UsageError

__all__ = ["parse_value_spec", "value_matrix", "expected_value", "best_threshold",
           "threshold_value", "replacement_economics", "evaluate_value"]

_BINARY = {"tn": (0, 0), "fp": (0, 1), "fn": (1, 0), "tp": (1, 1)}


def _number(value: Any, what: str, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {what} must be a number, got {value!r}",
                         hint="give a plain number, such as 0.40 or -2.0") from None
    if not np.isfinite(out):
        raise UsageError(f"{where}: {what} must be a finite number, got {value!r}")
    return out


def parse_value_spec(spec: str | os.PathLike[str] | dict[str, Any] | None,
                     where: str = "--value") -> dict[str, Any] | None:
    """`correct=0.4,wrong=-2`, a YAML file, or a mapping -> the mapping, every number checked
    (the class names are checked against a model by `value_matrix`)."""
    if spec is None:
        return None
    return _checked(spec if isinstance(spec, dict) else _read_spec(spec, where), where)


def _checked(spec: dict[str, Any], where: str = "--value") -> dict[str, Any]:
    value_matrix(spec, [], where, check_only=True)
    return spec


def _read_spec(spec: str | os.PathLike[str], where: str) -> dict[str, Any]:
    text = str(spec).strip()
    if text.lower().endswith((".yaml", ".yml")) or Path(text).is_file():
        import yaml

        file = Path(text)
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError:
            raise ConfigError(f"{file}: cannot read the value/cost file",
                              hint="check the path", file=str(file)) from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{file}: not valid YAML ({' '.join(str(error).split())})",
                              file=str(file)) from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: expected a mapping such as {{correct: 0.4, wrong: -2}}",
                              file=str(file))
        return raw
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"{where} {text!r}: {part!r} is not an outcome and a number",
                             hint="give comma-separated pairs of an outcome, an equals sign and a "
                                  "number, or a YAML file (see lathe decide --help)")
        out[key.strip()] = _number(value.strip(), key.strip(), where) \
            if key.strip() in ("correct", "wrong", *_BINARY) else value.strip()
    return out


def value_matrix(spec: dict[str, Any], classes: list[Any], where: str = "--value",
                 positive: int = 1, check_only: bool = False) -> np.ndarray:
    """The K x K matrix (actual x predicted) a spec gives for `classes` (`positive`: the
    index of the positive class, for tp/fp/tn/fn). `check_only`: check keys and numbers
    without classes."""
    if check_only:
        for key in ("correct", "wrong", *_BINARY):
            if key in spec:
                _number(spec[key], key, where)
        for label, outcome in (spec.get("classes") or {}).items():
            for key, value in (outcome.items() if isinstance(outcome, dict) else []):
                _number(value, f"classes.{label}.{key}", where)
        for actual, row_spec in (spec.get("matrix") or {}).items():
            for predicted, value in (row_spec.items() if isinstance(row_spec, dict) else []):
                _number(value, f"matrix.{actual}.{predicted}", where)
        unknown = sorted(set(spec) - {"correct", "wrong", "classes", "matrix", *_BINARY})
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r}",
                             hint="use correct/wrong, tp/fp/tn/fn, classes or matrix")
        return np.zeros((0, 0))
    names = [str(c) for c in classes]
    k = len(names)
    known = {"correct", "wrong", "classes", "matrix", *_BINARY}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}",
                         hint="use correct/wrong, tp/fp/tn/fn, classes or matrix")
    V = np.zeros((k, k))
    if "correct" in spec or "wrong" in spec:
        V[:] = _number(spec.get("wrong", 0.0), "wrong", where)
        np.fill_diagonal(V, _number(spec.get("correct", 0.0), "correct", where))
    if any(key in spec for key in _BINARY):
        if k != 2:
            raise UsageError(f"{where}: tp/fp/tn/fn need a binary model; this one has {k} classes",
                             hint="use correct/wrong or a per-class matrix")
        side = (1 - positive, positive)  # index 0: negative, 1: positive
        for key, (row, col) in _BINARY.items():
            if key in spec:
                V[side[row], side[col]] = _number(spec[key], key, where)
    for label, outcome in (spec.get("classes") or {}).items():
        row = _class_index(label, names, where)
        if not isinstance(outcome, dict):
            raise UsageError(f"{where}: classes.{label} must be {{correct: .., wrong: ..}}")
        if "wrong" in outcome:
            V[row, :] = _number(outcome["wrong"], f"classes.{label}.wrong", where)
            if "correct" not in outcome:
                V[row, row] = _number(spec.get("correct", 0.0), "correct", where)
        if "correct" in outcome:
            V[row, row] = _number(outcome["correct"], f"classes.{label}.correct", where)
    for actual, row_spec in (spec.get("matrix") or {}).items():
        row = _class_index(actual, names, where)
        if not isinstance(row_spec, dict):
            raise UsageError(f"{where}: matrix.{actual} must map predicted class -> value")
        for predicted, value in row_spec.items():
            V[row, _class_index(predicted, names, where)] = _number(
                value, f"matrix.{actual}.{predicted}", where)
    return V


def _class_index(label: Any, names: list[str], where: str) -> int:
    if str(label) not in names:
        from lathe.errors import did_you_mean

        raise UsageError(f"{where}: {label!r} is not one of the model's classes"
                         f"{did_you_mean(str(label), names)}",
                         hint=f"classes: {', '.join(names[:10])}")
    return names.index(str(label))


def expected_value(confusion: Any, V: np.ndarray) -> float:
    """Mean value of one prediction: sum(C * V) / sum(C)."""
    C = np.asarray(confusion, dtype=float)
    total = C.sum()
    return float((C * V).sum() / total) if total else 0.0


def threshold_value(y_true: Any, p_positive: Any, V: np.ndarray, threshold: float) -> float:
    """Expected value per row when rows with p >= threshold are called positive."""
    y = np.asarray(y_true, dtype=int)
    predicted = (np.asarray(p_positive, dtype=float) >= threshold).astype(int)
    return float(V[y, predicted].mean())


def best_threshold(y_true: Any, p_positive: Any, V: np.ndarray) -> dict[str, float]:
    """The threshold on P(positive) that maximises the total value on these rows.

    Every distinct probability is a candidate (call it and everything above positive), plus
    "never positive"; ties go to the threshold nearest 0.5. O(n log n).
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p_positive, dtype=float)
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    # value of each row if called negative / positive
    neg, pos = V[ys, 0], V[ys, 1]
    gain = np.cumsum(pos - neg)  # switching the top i+1 rows to positive
    base = float(neg.sum())
    last = np.r_[ps[1:] != ps[:-1], True]  # only cut between distinct probabilities
    totals = np.r_[base, base + gain[last]]
    cuts = np.r_[np.inf, ps[last]]
    best = totals.max()
    candidates = np.flatnonzero(np.isclose(totals, best, rtol=0, atol=1e-9))
    pick = candidates[np.argmin(np.abs(np.minimum(cuts[candidates], 1.0) - 0.5))]
    threshold = float(min(cuts[pick], 1.0 + 1e-12)) if np.isfinite(cuts[pick]) else 1.0 + 1e-12
    return {"threshold": threshold, "expected_value": float(best / len(y)),
            "expected_value_at_0.5": threshold_value(y, p, V, 0.5)}


def replacement_economics(candidate: dict[str, Any], champion: dict[str, Any],
                          per_month: float | None) -> dict[str, Any]:
    """ROI and break-even traffic of replacing `champion` with `candidate`.

    Each side has `expected_value` (per prediction, may be None), `cost_per_million` and
    `training_cost` (USD, may be None). Net gain per prediction = value gained minus extra
    serving cost; break-even = the candidate's training cost / net gain, in predictions.
    """
    ev_gain = (candidate.get("expected_value") or 0.0) - (champion.get("expected_value") or 0.0)
    cost_gain = (champion["cost_per_million"] - candidate["cost_per_million"]) / 1e6
    net = ev_gain + cost_gain
    training = candidate.get("training_cost") or 0.0
    out: dict[str, Any] = {"against": champion["model"], "net_gain_per_prediction": net,
                           "break_even_predictions": None, "roi_first_month": None}
    if net > 0:
        out["break_even_predictions"] = training / net
    if per_month is not None and training > 0:
        out["roi_first_month"] = (net * per_month - training) / training
    return out


def evaluate_value(model: Any, frame: Any, spec: dict[str, Any],
                   metrics: dict[str, Any]) -> dict[str, Any]:
    """`lathe evaluate --costs`: expected value per prediction on labelled `frame` (from the
    confusion matrix of `metrics`) and, for a binary model, the threshold on P(positive)
    that maximises it on these rows."""
    if not model.schema.is_classification:
        raise UsageError("--costs needs a classification model; this one does regression")
    pos = model.schema.positive_index if model.task == "binary" else 1
    V = value_matrix(spec, list(model.classes), "--costs", positive=pos)
    out: dict[str, Any] = {"matrix": V.tolist(),
                           "expected_value": expected_value(metrics["confusion_matrix"], V)}
    if model.task == "binary":
        from lathe.data.infer import encode_labels

        target = model.schema.target
        labelled = frame[frame[target].notna()]
        y = encode_labels(labelled[target], model.schema, source="data")
        p = model.predict_raw(labelled)[:, pos]
        order = [1 - pos, pos]
        best = best_threshold((y == pos).astype(int), p, V[order][:, order])
        out.update(threshold=best["threshold"],
                   expected_value_at_threshold=best["expected_value"],
                   expected_value_at_0_5=best["expected_value_at_0.5"],
                   positive_class=str(model.classes[pos]))
    return out
