"""Blending fitted members: the weights that average their predictions best, and the
default time budgets of the presets that blend.

`blend_weights` is greedy ensemble selection over out-of-fold predictions (the `best`
preset's GBM bags); `simplex_weights` searches a grid of weights on the validation split (the
text preset's encoder + TF-IDF blend, distillation's students). Both maximise the primary
metric (`_score_raw`, oriented so that higher is better).

>>> schema = Schema(columns=[], target="y", task="regression")
>>> y = np.array([0.0, 1.0, 2.0, 3.0])
>>> simplex_weights([y + 1, y - 1], y, schema)
[0.5, 0.5]
"""

from __future__ import annotations

import numpy as np

from lathe.data.schema import Schema
from lathe.evaluation.metrics import primary_score

__all__ = ["blend_weights", "simplex_weights", "DEFAULT_BUDGET_S"]

# text-best: the budget for a fine-tuned encoder on 2 cores (20 minutes)
DEFAULT_BUDGET_S = {"fast": 60.0, "best": 120.0, "text-best": 1200.0}


def _score_raw(schema: Schema, y: np.ndarray, raw: np.ndarray) -> float:
    """Primary metric, oriented so that higher is better."""
    return primary_score(schema.task or "regression", y, raw, oriented=True)


def _blend_score(schema: Schema, y: np.ndarray, raw: np.ndarray) -> float:
    """What blending maximises: the primary metric, except multiclass uses -log loss
    (accuracy is too coarse a signal to weigh members by)."""
    if schema.task == "multiclass":
        proba = np.clip(raw, 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        return float(np.log(proba[np.arange(len(y)), y.astype(int)]).mean())
    return _score_raw(schema, y, raw)


def blend_weights(oof: list[np.ndarray], y: np.ndarray, schema: Schema,
                  rounds: int = 20) -> list[float]:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold
    predictions; returns one weight per candidate, summing to 1.

    >>> schema = Schema(columns=[], target="y", task="regression")
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> blend_weights([y + 1, y - 1, y * 0], y, schema)
    [0.5, 0.5, 0.0]
    """
    counts = np.zeros(len(oof))
    total: np.ndarray | None = None
    best_so_far = -np.inf
    for step in range(rounds):
        scores = [_blend_score(schema, y, cand if total is None else (total * step + cand) / (step + 1))
                  for cand in oof]
        pick = int(np.argmax(scores))
        if scores[pick] <= best_so_far + 1e-12 and total is not None:
            break  # no candidate improves the blend any more
        best_so_far = scores[pick]
        counts[pick] += 1
        total = oof[pick] if total is None else (total * step + oof[pick]) / (step + 1)
    return (counts / counts.sum()).tolist()


def simplex_weights(raws: list[np.ndarray], y: np.ndarray, schema: Schema,
                    steps: int = 20) -> list[float]:
    """Weights (multiples of 1/steps, summing to 1) for averaging `raws` that score best on
    y: the primary metric, ties broken by the blend score (log loss for multiclass). Unlike
    `blend_weights`, which follows log loss alone, this keeps a member that fixes many argmax
    errors while being worse calibrated (TF-IDF next to an encoder). For a few members only:
    the grid has C(steps + k - 1, k - 1) points.

    >>> schema = Schema(columns=[], target="y", task="regression")
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> simplex_weights([y + 1, y - 1], y, schema)
    [0.5, 0.5]
    """
    best_key, best = (-np.inf, -np.inf), [1.0] + [0.0] * (len(raws) - 1)
    for counts in _compositions(steps, len(raws)):
        weights = [c / steps for c in counts]
        raw = np.sum([w * r for w, r in zip(weights, raws, strict=True)], axis=0)
        key = (_score_raw(schema, y, raw), _blend_score(schema, y, raw))
        if key > best_key:
            best_key, best = key, weights
    return best


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    """All tuples of `parts` non-negative ints summing to `total`, the first part largest-first."""
    if parts == 1:
        return [(total,)]
    return [(first, *rest) for first in range(total, -1, -1)
            for rest in _compositions(total - first, parts - 1)]
