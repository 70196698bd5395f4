"""Confidence-based performance estimation (CBPE, NannyML's method): with calibrated
probabilities, each row's chance of being right is known before its label arrives, so the
expected confusion matrix — and from it accuracy, F1 and ROC AUC — can be computed for
rows without labels.

Calibration (NannyML calibrates on its reference period when the scores are not already
calibrated): isotonic regression per class fitted on labelled reference rows when given;
otherwise the reliability table the artifact keeps from its test split (top-class
confidence per bin -> observed accuracy, interpolated); otherwise the raw probabilities.

Intervals: labels are drawn from the calibrated probabilities (200 draws) and each metric is
recomputed on every draw: the 2.5-97.5 % percentiles are the estimate's interval.

>>> import numpy as np
>>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
>>> est = estimate(proba, positive=1)
>>> round(est["estimated_accuracy"], 3), round(est["estimated_f1"], 3)
(0.75, 0.75)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["estimate", "Calibrator", "expected_auc"]

DRAWS = 200


class Calibrator:
    """Maps raw class probabilities to calibrated ones."""

    def __init__(self, kind: str = "none", models: list[Any] | None = None,
                 table: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.kind, self._models, self._table = kind, models or [], table

    @classmethod
    def fit(cls, proba: np.ndarray, y: np.ndarray) -> Calibrator:
        """Isotonic regression of each class's indicator on its probability (one-vs-rest)."""
        from sklearn.isotonic import IsotonicRegression

        models = []
        for c in range(proba.shape[1]):
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            models.append(iso.fit(proba[:, c], (y == c).astype(float)))
        return cls("isotonic on the reference rows", models)

    @classmethod
    def from_reliability(cls, calibration: dict[str, Any] | None) -> Calibrator:
        """From the manifest's test-split reliability table (`metrics.calibration.bins`)."""
        bins = [b for b in (calibration or {}).get("bins", []) if b.get("count", 0) >= 20]
        if len(bins) < 2:
            return cls()
        conf = np.array([b["confidence"] for b in bins])
        acc = np.array([b["accuracy"] for b in bins])
        return cls("reliability table of the training test split", table=(conf, acc))

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=float)
        if self._models:
            out = np.column_stack([m.predict(proba[:, c]) for c, m in enumerate(self._models)])
            total = out.sum(axis=1, keepdims=True)
            fallback = np.full_like(out, 1.0 / out.shape[1])
            return np.where(total > 0, out / np.where(total > 0, total, 1), fallback)
        if self._table is not None:
            top = proba.argmax(axis=1)
            conf = np.interp(proba.max(axis=1), *self._table)
            k = proba.shape[1]
            rest = proba.copy()
            rest[np.arange(len(top)), top] = 0.0
            share = rest.sum(axis=1, keepdims=True)
            rest = np.where(share > 0, rest / np.where(share > 0, share, 1), 1.0 / max(k - 1, 1))
            out = rest * (1 - conf)[:, None]
            out[np.arange(len(top)), top] = conf
            return out
        return proba


def expected_auc(score: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC expected when row i is positive with probability p[i] (NannyML's CBPE AUC:
    the ROC curve from fractional positives and negatives, ordered by score)."""
    order = np.argsort(-score, kind="stable")
    s, w = score[order], p[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    tp = np.add.reduceat(w, starts)
    fp = np.add.reduceat(1 - w, starts)
    if tp.sum() <= 0 or fp.sum() <= 0:
        return None
    tpr = np.r_[0, np.cumsum(tp)] / tp.sum()
    fpr = np.r_[0, np.cumsum(fp)] / fp.sum()
    return float(np.trapezoid(tpr, fpr))


def _f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)


def _rank_auc(ranks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUC per row of `labels` (draws x rows, 0/1) from the scores' ranks (Mann-Whitney)."""
    n1 = labels.sum(axis=1)
    n0 = labels.shape[1] - n1
    u = labels @ ranks - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def estimate(proba: np.ndarray, *, positive: int | None = None, draws: int = DRAWS,
             seed: int = 0) -> dict[str, Any]:
    """Estimated accuracy, F1 (the positive class's for binary, macro otherwise) and ROC AUC
    (binary) of calibrated probabilities, each with a 95 % interval."""
    from scipy.stats import rankdata

    p = np.asarray(proba, dtype=float)
    n, k = p.shape
    pred = p.argmax(axis=1)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    if k == 2:
        pos = 1 if positive is None else positive
        p1, said = p[:, pos], pred == pos
        tp, fp = np.sum(p1 * said), np.sum((1 - p1) * said)
        fn, tn = np.sum(p1 * ~said), np.sum((1 - p1) * ~said)
        out["estimated_accuracy"] = float((tp + tn) / n)
        out["estimated_f1"] = float(_f1_from_counts(np.array(tp), np.array(fp), np.array(fn)))
        out["estimated_roc_auc"] = expected_auc(p1, p1)
        ys = rng.random((draws, n)) < p1  # simulated labels (True = positive)
        acc = (ys == said).mean(axis=1)
        dtp, dfp = (ys & said).sum(axis=1), (~ys & said).sum(axis=1)
        dfn = (ys & ~said).sum(axis=1)
        f1 = _f1_from_counts(dtp, dfp, dfn)
        auc = _rank_auc(rankdata(p1), ys.astype(float))
    else:
        conf = p[np.arange(n), pred]
        out["estimated_accuracy"] = float(conf.mean())
        said = np.eye(k, dtype=bool)[pred]
        tp = (p * said).sum(axis=0)
        fp = ((1 - p) * said).sum(axis=0)
        fn = (p * ~said).sum(axis=0)
        out["estimated_f1"] = float(_f1_from_counts(tp, fp, fn).mean())
        out["estimated_roc_auc"] = None
        cum = p.cumsum(axis=1)
        ys_idx = (rng.random((draws, n, 1)) > cum[None]).sum(axis=2).clip(0, k - 1)
        acc = (ys_idx == pred).mean(axis=1)
        f1 = np.array([_f1_from_counts(
            np.bincount(pred[y == pred], minlength=k).astype(float),
            np.bincount(pred[y != pred], minlength=k).astype(float),
            np.bincount(y[y != pred], minlength=k).astype(float)).mean() for y in ys_idx])
        auc = np.full(draws, np.nan)
    for name, values in (("accuracy", acc), ("f1", f1), ("roc_auc", auc)):
        values = values[np.isfinite(values)]
        ok = out[f"estimated_{name}"] is not None and len(values) >= draws // 2
        out[f"estimated_{name}_ci"] = ([float(np.percentile(values, 2.5)),
                                        float(np.percentile(values, 97.5))] if ok else None)
    return out
