"""measure_candidates: the candidates take turns round by round, each figure comes from the
real scorer's calls, and a candidate that cannot score is named."""

from __future__ import annotations

import pandas as pd
import pytest

import lathe
from lathe.business.measure import default_scorer, measure_candidates
from lathe.errors import DataError


def test_rounds_alternate_between_candidates(candidates) -> None:
    hold = pd.read_csv(candidates / "hold.csv")
    calls: list[tuple[str, int]] = []

    def recording(name: str):
        def make(model):
            score = default_scorer(model)

            def scorer(rows):
                calls.append((name, len(rows)))
                return score(rows)
            return scorer
        return make

    names = ["gbm", "lin"]
    scorers = {n: recording(n) for n in names}
    models = {n: lathe.load(candidates / n) for n in names}
    out = measure_candidates(
        [lambda n=n: models[n] for n in names], hold,
        make_scorer=lambda model: scorers["gbm" if model is models["gbm"] else "lin"](model),
        rounds=3, calls_batch1=6, calls_batch64=1, budget_s=0.5)
    timed = [name for name, size in calls if size == 64][2:]  # after each one's warm-up
    assert timed == ["gbm", "lin"] * 3  # one 64-row call per candidate per round, in turn
    for row in out:
        assert row["timing"]["rounds"] == 3 and row["timing"]["interleaved"]
        assert row["cpu_seconds_per_row"] > 0 and row["latency_ms"]["p50"] > 0
        assert row["metrics"]["n_rows"] == len(hold)


def test_a_candidate_that_cannot_score_is_named(candidates) -> None:
    hold = pd.read_csv(candidates / "hold.csv")
    loads = [lambda: lathe.load(candidates / "gbm"), lambda: lathe.load(candidates / "other")]

    def named(i, error):
        return DataError(f"candidate {i} failed: {error}") if isinstance(error, DataError) \
            else error

    with pytest.raises(DataError, match="candidate 1 failed"):
        measure_candidates(loads, hold, rounds=1, budget_s=0.2, on_error=named)
