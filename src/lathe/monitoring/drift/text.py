"""Drift of a text column: maximum mean discrepancy between the two sides' MiniLM sentence
embeddings, with a permutation p-value.

The kernel is Gaussian with the median pairwise distance as its bandwidth (the usual
heuristic); each side is subsampled to at most `max_rows` texts with a fixed seed, so the
test is deterministic. The encoder is lathe's (all-MiniLM-L6-v2 from the text extra),
imported only when a text column is tested.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> same = mmd_permutation(rng.normal(size=(60, 4)), rng.normal(size=(60, 4)))
>>> moved = mmd_permutation(rng.normal(size=(60, 4)), rng.normal(1, size=(60, 4)))
>>> same[1] > 0.05, moved[1] < 0.01
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from lathe.monitoring.drift._base import Sample, stattest

__all__ = ["mmd", "mmd_permutation", "embed"]

MAX_ROWS = 500
PERMUTATIONS = 200


def _sq_dists(points: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", points, points)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * points @ points.T, 0.0)


def _mmd2(kernel: np.ndarray, first: np.ndarray) -> float:
    """Biased MMD^2 of the split `first` (boolean mask) vs the rest, from the joint kernel."""
    a = first.astype(float) / first.sum()
    b = (~first).astype(float) / (~first).sum()
    w = a - b
    return float(w @ kernel @ w)


def mmd_permutation(x: np.ndarray, y: np.ndarray, permutations: int = PERMUTATIONS,
                    seed: int = 0) -> tuple[float, float]:
    """(MMD^2, permutation p-value) between the rows of x and the rows of y."""
    points = np.vstack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    d2 = _sq_dists(points)
    upper = d2[np.triu_indices(len(points), 1)]
    bandwidth = float(np.median(upper[upper > 0])) if np.any(upper > 0) else 1.0
    kernel = np.exp(-d2 / bandwidth)
    first = np.zeros(len(points), dtype=bool)
    first[: len(x)] = True
    observed = _mmd2(kernel, first)
    rng = np.random.default_rng(seed)
    beaten = sum(_mmd2(kernel, rng.permutation(first)) >= observed for _ in range(permutations))
    return observed, (beaten + 1) / (permutations + 1)


@lru_cache(maxsize=1)
def _encoder() -> tuple[Any, Any]:
    from lathe.models._encoder import default_encoder_path, load_encoder

    return load_encoder(default_encoder_path())


def embed(texts: Sequence[str]) -> np.ndarray:
    """MiniLM mean-pooled embeddings of the texts (float32, one row per text)."""
    from lathe.models._encoder import embed_texts

    tokenizer, model = _encoder()
    return embed_texts([str(t) for t in texts], tokenizer, model, bf16=False)


def _subsample(texts: Sequence[str], seed: int) -> list[str]:
    if len(texts) <= MAX_ROWS:
        return list(texts)
    pick = np.random.default_rng(seed).choice(len(texts), MAX_ROWS, replace=False)
    return [texts[i] for i in sorted(pick)]


@stattest("mmd", score="p_value", threshold=0.05, kinds=("text",))
def mmd(reference: Sample, current: Sample) -> float:
    """Permutation p-value of the MMD between the sides' sentence embeddings."""
    ref = _subsample(list(reference.texts or ()), 1)
    cur = _subsample(list(current.texts or ()), 2)
    return mmd_permutation(embed(ref), embed(cur))[1]
