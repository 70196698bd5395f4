"""The drift-test contract: a column's two samples in, one drift score out.

A `Sample` is one side of one column with missing values already removed: numeric columns
carry their finite values sorted ascending (`values`), categorical ones their category counts
(`keys`, `counts`); a numeric sample also answers `counts()` (its distinct values). A
`StatTest` wraps one pure function `fn(reference, current) -> score` with what the score is:
a p-value (drift when it falls below the threshold) or a distance (drift at or above it), as
Evidently's stattests do. Tests never mutate their samples and hold no state, so they are
thread-safe. Register one with `@stattest(...)`; `STATTESTS.get(name)` finds it by name.

>>> import numpy as np
>>> s = Sample.numeric(np.array([3.0, 1.0, 2.0, 2.0]))
>>> s.values.tolist(), s.n, s.counts()
([1.0, 2.0, 2.0, 3.0], 4, ([1.0, 2.0, 3.0], [1, 2, 1]))
>>> c = Sample.categorical(["a", "b"], [5, 1])
>>> c.n, c.nunique
(6, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lathe.plugins import Registry

__all__ = ["Sample", "StatTest", "STATTESTS", "stattest", "aligned_counts"]

Kind = Literal["numeric", "categorical", "text"]


@dataclass(frozen=True)
class Sample:
    """One side of one column, missing values removed.

    `n` is the number of rows the sample stands for: a reference profile keeps a quantile
    sketch in `values` (fewer points than rows) and the true row count in `n`.
    """

    kind: Kind
    n: int
    values: np.ndarray | None = None
    keys: list[Any] | None = None
    counts_: np.ndarray | None = None
    texts: Sequence[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def numeric(cls, values: np.ndarray, *, n: int | None = None, presorted: bool = False,
                counts: tuple[list[Any], Sequence[int]] | None = None) -> Sample:
        arr = np.asarray(values, dtype=float)
        arr = arr if presorted else np.sort(arr[np.isfinite(arr)])
        keys, cnt = (None, None) if counts is None else (list(counts[0]), np.asarray(counts[1]))
        return cls("numeric", len(arr) if n is None else int(n), arr, keys, cnt)

    @classmethod
    def categorical(cls, keys: Sequence[Any], counts: Sequence[int] | np.ndarray) -> Sample:
        cnt = np.asarray(counts, dtype=np.int64)
        return cls("categorical", int(cnt.sum()), None, list(keys), cnt)

    @classmethod
    def text(cls, texts: Sequence[str]) -> Sample:
        return cls("text", len(texts), texts=list(texts))

    def counts(self) -> tuple[list[Any], list[int]]:
        """Distinct values and how often each occurs (numeric: from the sorted values)."""
        if self.keys is not None and self.counts_ is not None:
            return list(self.keys), [int(c) for c in self.counts_]
        if self.values is None:
            raise ValueError(f"a {self.kind} sample has no counts")
        v = self.values
        if len(v) == 0:
            return [], []
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        sizes = np.diff(np.r_[starts, len(v)])
        return [float(x) for x in v[starts]], [int(s) for s in sizes]

    @property
    def nunique(self) -> int:
        if self.keys is not None:
            return len(self.keys)
        if self.values is not None:
            v = self.values
            return int(len(v) > 0) + int(np.count_nonzero(v[1:] != v[:-1]))
        return len(set(self.texts or ()))


def aligned_counts(reference: Sample, current: Sample) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """The union of both sides' categories (sorted where comparable) and each side's counts."""
    rk, rc = reference.counts()
    ck, cc = current.counts()
    keys = list(dict.fromkeys([*rk, *ck]))
    try:
        keys.sort()
    except TypeError:
        keys.sort(key=repr)
    index = {k: i for i, k in enumerate(keys)}
    ref = np.zeros(len(keys))
    cur = np.zeros(len(keys))
    np.add.at(ref, [index[k] for k in rk], rc)
    np.add.at(cur, [index[k] for k in ck], cc)
    return keys, ref, cur


@dataclass(frozen=True)
class StatTest:
    """A named drift test: `fn(reference, current) -> score`, and how to read the score."""

    name: str
    fn: Callable[[Sample, Sample], float]
    score: Literal["p_value", "distance"]
    default_threshold: float
    kinds: tuple[Kind, ...]
    inclusive: bool = False  # a p-value equal to the threshold is drift (Evidently's ks)

    def drifted(self, score: float, threshold: float) -> bool:
        if not np.isfinite(score):
            return self.score == "distance" and score > 0
        if self.score == "distance":
            return bool(score >= threshold)
        return bool(score <= threshold) if self.inclusive else bool(score < threshold)

    def __call__(self, reference: Sample, current: Sample) -> float:
        return float(self.fn(reference, current))


STATTESTS: Registry[StatTest] = Registry("drift test")


def stattest(name: str, *, score: Literal["p_value", "distance"], threshold: float,
             kinds: tuple[Kind, ...], inclusive: bool = False
             ) -> Callable[[Callable[[Sample, Sample], float]], Callable[[Sample, Sample], float]]:
    """Register a pure function as the drift test `name` (the function itself is returned)."""

    def decorator(fn: Callable[[Sample, Sample], float]) -> Callable[[Sample, Sample], float]:
        STATTESTS.register(name)(StatTest(name, fn, score, threshold, kinds, inclusive))
        return fn

    return decorator
