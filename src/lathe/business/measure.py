"""One candidate measured on the decision rows: quality, latency, throughput, CPU, memory, size.

`measure_candidates(loads, frame)` loads each model (so its memory counts), scores `frame` with
`Model.evaluate` (every metric `lathe evaluate` reports, and its confusion matrix), then times
the *serving* call — the scorer `lathe.api.decide` passes in is the server's own `Predictor`
(JSON-like rows -> validation -> the model; the gbm and linear fast paths where the server takes them):

* latency at batch 1: `rounds` rounds of single-row calls over different rows; p50/p95/p99 of
  each round, the median over rounds; the candidates take turns round by round;
* throughput at batch 64: rounds of 64-row calls, rows per second, median over rounds;
* CPU-seconds per row: process CPU time (`time.process_time`, every thread) of the batch-1
  calls / rows — what one request scored alone costs; batch 64 alongside;
* peak memory: the process's resident memory above what it used before loading the model,
  sampled every few milliseconds while it loads, is evaluated and warms up;
* size: the artifact's bytes on disk.

Timing uses `lathe.evaluation.timing`, as `lathe compress` does.
"""

from __future__ import annotations

import os
import resource
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lathe.evaluation.timing import percentiles, time_calls, windows

__all__ = ["measure_candidates", "Scorer", "default_scorer"]

Scorer = Callable[[list[dict[str, Any]]], np.ndarray]


def default_scorer(model: Any) -> Scorer:
    """Rows (dicts) -> raw outputs through `Schema.conform` and the family: the server's
    general path, for callers that have no server predictor to give."""

    def score(rows: list[dict[str, Any]]) -> np.ndarray:
        frame, _ = model.schema.conform(pd.DataFrame(rows), source="request")
        return model.family.predict_raw(frame)

    return score


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _PeakMemory:
    """Highest resident memory of the process while the block runs (sampled every 5 ms)."""

    def __enter__(self) -> _PeakMemory:
        self.before = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def mb(self) -> float:
        return (self.peak - self.before) / 2**20


def _records(model: Any, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as a server receives them: plain JSON values, missing values as None."""
    names = [n for n in model.schema.feature_names if n in frame.columns]
    part = frame[names].astype(object).where(frame[names].notna(), None)
    return part.to_dict("records")


def _calls(seconds_per_call: float, budget_s: float, rounds: int, low: int, high: int) -> int:
    """How many calls per round fit `budget_s` over `rounds` rounds (within [low, high])."""
    fit = int(budget_s / max(rounds * seconds_per_call, 1e-9))
    return max(low, min(high, fit))


class _Candidate:
    """One loaded candidate between its timed rounds: the rows of each round and the
    figures so far."""

    def __init__(self, load: Callable[[], Any], frame: pd.DataFrame,
                 make_scorer: Callable[[Any], Scorer] | None, rounds: int,
                 calls_batch1: int, calls_batch64: int, budget_s: float) -> None:
        with _PeakMemory() as memory:
            self.model = load()
            self.metrics = self.model.evaluate(frame)
            self.scorer = (make_scorer or default_scorer)(self.model)
            rows = _records(self.model, frame)
            # warm-up (lazy sessions, per-shape plans), which also sizes the timed rounds
            warm1 = time_calls(self.scorer, [rows[i:i + 1] for i in range(3)]).wall_ms
            warm64 = time_calls(self.scorer, [rows[:64]]).wall_ms
        self.memory_mb = memory.mb
        self.n_rows, self.rounds = len(rows), rounds
        self.n1 = _calls(statistics.median(warm1) / 1000, 0.6 * budget_s, rounds, 5,
                         calls_batch1)
        self.n64 = _calls(warm64[0] / 1000, 0.4 * budget_s, rounds, 1, calls_batch64)
        self.ones = [rows[a:b] for a, b in windows(len(rows), batch=1, calls=self.n1 * rounds)]
        self.many = [rows[a:b] for a, b in windows(len(rows), batch=64,
                                                   calls=self.n64 * rounds)]
        self.latency: list[dict[str, float]] = []
        self.throughput: list[float] = []
        self.cpu1: list[float] = []
        self.cpu64: list[float] = []

    def time_round(self, r: int) -> None:
        """Round `r`, on rows of its own: single-row calls, then 64-row calls."""
        n1, n64 = self.n1, self.n64
        single = time_calls(self.scorer, self.ones[r * n1:(r + 1) * n1])
        self.latency.append({**percentiles(single.wall_ms),
                             "mean": statistics.fmean(single.wall_ms)})
        self.cpu1.append(single.cpu_seconds / n1)
        part = self.many[r * n64:(r + 1) * n64]
        batched = time_calls(self.scorer, part)
        n_rows = sum(len(p) for p in part)
        self.throughput.append(n_rows / max(batched.wall_seconds, 1e-9))
        self.cpu64.append(batched.cpu_seconds / n_rows)

    def result(self) -> dict[str, Any]:
        median = statistics.median
        return {
            "model_object": self.model,
            "metrics": dict(self.metrics),
            "latency_ms": {k: median(r[k] for r in self.latency) for k in ("p50", "p95", "p99")},
            "latency_ms_mean": median(r["mean"] for r in self.latency),
            "throughput_rows_per_second_batch64": median(self.throughput),
            "cpu_seconds_per_row": max(median(self.cpu1), 1e-9),
            "cpu_seconds_per_row_batch64": max(median(self.cpu64), 1e-9),
            "peak_memory_mb": self.memory_mb,
            "size_bytes": self.metrics.get("model_size_bytes"),
            "timing": {"rounds": self.rounds, "calls_batch1": self.n1,
                       "calls_batch64": self.n64, "rows": self.n_rows,
                       "interleaved": True, "measured_at": time.time()},
        }


def measure_candidates(loads: list[Callable[[], Any]], frame: pd.DataFrame, *,
                       make_scorer: Callable[[Any], Scorer] | None = None,
                       rounds: int = 5, calls_batch1: int = 40, calls_batch64: int = 4,
                       budget_s: float = 6.0,
                       on_error: Callable[[int, Exception], Exception] | None = None,
                       ) -> list[dict[str, Any]]:
    """Load and measure every candidate on the labelled `frame` (see the module docstring).

    All are loaded first; then round 1 times each candidate in turn, then round 2, and so
    on, so that load from other jobs that comes and goes falls on every candidate alike
    instead of on whichever happened to be timed then. `calls_batch1` / `calls_batch64` per
    round are upper bounds: a slow model gets fewer calls (at least 5 and 1) so that its
    timed rounds take about `budget_s` seconds. `on_error(i, error)` may turn a failure to
    load or score candidate i into the error to raise.
    """
    candidates = []
    for i, load in enumerate(loads):
        try:
            candidates.append(_Candidate(load, frame, make_scorer, rounds, calls_batch1,
                                         calls_batch64, budget_s))
        except Exception as error:
            if on_error is None:
                raise
            raise on_error(i, error) from None
    for r in range(rounds):
        for candidate in candidates:
            candidate.time_round(r)
    return [c.result() for c in candidates]

