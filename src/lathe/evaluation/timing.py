"""Timing of prediction calls: wall-clock latency of each call and the CPU time they took.

Shared by `lathe compress` (parent vs child) and `lathe decide` (every candidate) so both
time predictions the same way: the same row windows, `time.perf_counter` around each call,
and `time.process_time` (CPU time of every thread of this process) around all of them.

>>> windows(10, batch=4, calls=3)
[(0, 4), (4, 8), (1, 5)]
>>> timed = time_calls(lambda rows: sum(rows), [[1, 2], [3]])
>>> len(timed.wall_ms), timed.cpu_seconds >= 0
(2, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["windows", "time_calls", "Timed", "percentiles"]


def windows(n_rows: int, *, batch: int, calls: int) -> list[tuple[int, int]]:
    """`calls` row ranges of `batch` rows walking through `n_rows` rows (wrapping around)."""
    span = max(1, n_rows - batch + 1)
    return [((i * batch) % span, (i * batch) % span + batch) for i in range(calls)]


@dataclass
class Timed:
    """Milliseconds of each call, and the CPU seconds of all of them together."""

    wall_ms: list[float]
    cpu_seconds: float
    wall_seconds: float


def time_calls(fn: Callable[[Any], Any], parts: Sequence[Any]) -> Timed:
    """Call `fn(part)` for each part; per-call wall ms and the total process CPU seconds."""
    out = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for part in parts:
        began = time.perf_counter()
        fn(part)
        out.append((time.perf_counter() - began) * 1000.0)
    return Timed(out, time.process_time() - cpu0, time.perf_counter() - wall0)


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": .., "p95": .., "p99": ..} of `values`."""
    return {f"p{q:g}": float(np.percentile(values, q)) for q in qs}
