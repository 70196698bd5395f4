"""business.decide: measured candidates, the documented arithmetic, a recommendation that is
never dominated, the report, and one clear error per bad input with nothing written."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lathe
from lathe.business.decide import pareto_front, recommend
from lathe.errors import ConfigError, DataError, UsageError


def _decide(root, models, **kw):
    return lathe.decide([str(root / m) for m in models], root / "hold.csv", rounds=2, **kw)


def test_every_figure_and_the_formula(candidates) -> None:
    began = time.perf_counter()
    out = _decide(candidates, ["gbm", "lin"], traffic="2e6/day", price="cpu_hour=0.034",
                  value="correct=0.40,wrong=-2.0", region="FR",
                  report=candidates / "decide.html")
    assert time.perf_counter() - began < 60
    assert out["recommendation"] in {str(candidates / m) for m in ("gbm", "lin")}
    json.dumps(out)  # JSON-ready
    for c in out["candidates"]:
        for key in ("accuracy", "roc_auc", "f1_macro", "log_loss", "confusion_matrix"):
            assert key in c["metrics"]
        assert set(c["latency_ms"]) == {"p50", "p95", "p99"}
        assert c["latency_ms"]["p50"] <= c["latency_ms"]["p99"]
        assert c["price_per_cpu_hour"] == 0.034
        assert c["cost_per_million"] == c["cpu_seconds_per_row"] * 1e6 * 0.034 / 3600
        watts = out["power"]["watts_per_cpu"]
        assert c["kwh_per_million"] == pytest.approx(c["cpu_seconds_per_row"] * 1e6 * watts / 3.6e6)
        assert c["co2_kg_per_million"] == pytest.approx(
            c["kwh_per_million"] * out["region"]["kg_co2_per_kwh"])
        assert c["cpu_seconds_per_row"] > 0 and c["peak_memory_mb"] >= 0
        assert c["size_bytes"] > 0 and c["replicas"] is None or c["replicas"] >= 1
        assert c["training_cost"] == pytest.approx(
            c["training_footprint"]["cpu_hours"] * 0.034)
        C = np.array(c["metrics"]["confusion_matrix"])
        V = np.array([[0.4, -2.0], [-2.0, 0.4]])
        assert c["expected_value"] == pytest.approx((C * V).sum() / C.sum())
        assert c["threshold"]["expected_value"] >= c["threshold"]["expected_value_at_0.5"]
    assert out["reason"].startswith("run ")
    page = (candidates / "decide.html").read_text()
    assert page.count("data:image/png;base64") == 2 and out["reason"].split(":")[0] in page


def test_recommendation_is_not_dominated_on_real_candidates(candidates) -> None:
    out = _decide(candidates, ["gbm", "lin"])
    metric = out["primary_metric"]
    chosen = next(c for c in out["candidates"] if c["model"] == out["recommendation"])
    for c in out["candidates"]:
        assert not (c["metrics"][metric] >= chosen["metrics"][metric]
                    and c["cost_per_million"] <= chosen["cost_per_million"]
                    and (c["metrics"][metric] > chosen["metrics"][metric]
                         or c["cost_per_million"] < chosen["cost_per_million"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.001, 10)), min_size=1, max_size=8),
       st.booleans(), st.floats(0, 0.2))
def test_recommend_never_picks_a_dominated_candidate(points, valued, tolerance) -> None:
    quality = [q for q, _ in points]
    cost = [c for _, c in points]
    net = [q - c / 10 for q, c in points] if valued else None
    pick = recommend(quality, cost, net, tolerance)
    assert pick in pareto_front(points)
    for q, c in points:
        assert not (q >= quality[pick] and c <= cost[pick]
                    and (q > quality[pick] or c < cost[pick]))


def test_a_candidate_of_another_schema_is_named_and_nothing_is_written(candidates) -> None:
    report = candidates / "half.html"
    with pytest.raises(DataError) as info:
        _decide(candidates, ["gbm", "other"], report=report)
    assert "other" in str(info.value) and "cannot score" in str(info.value)
    assert not report.exists()


@pytest.mark.parametrize("kw, error", [
    ({"price": "cpu_hour=free"}, UsageError),
    ({"value": "correct=yes"}, UsageError),
    ({"traffic": "many/day"}, UsageError),
    ({"region": "Atlantis"}, ConfigError),
])
def test_bad_arguments_fail_before_any_work(candidates, kw, error) -> None:
    report = candidates / "bad.html"
    began = time.perf_counter()
    with pytest.raises(error) as info:
        _decide(candidates, ["gbm", "lin"], report=report, **kw)
    assert time.perf_counter() - began < 15  # measuring two candidates takes far longer
    assert "\n" not in str(info.value)
    assert not report.exists()


def _cand(name: str, auc: float, cost: float, ev: float | None = None,
          training: float | None = None) -> dict:
    return {"model": name, "metrics": {"roc_auc": auc}, "cost_per_million": cost,
            "expected_value": ev, "training_cost": training}


def test_the_sentence_names_the_choice_and_the_trade() -> None:
    from lathe.business.decide import sentence

    cands = [_cand("large", 0.95, 10.0, 0.30, 50.0), _cand("int8", 0.947, 3.1, 0.29, 1.0)]
    quality = [0.95, 0.947]
    text = sentence(cands, 1, "roc_auc", quality)
    assert text.startswith("run int8: it keeps 99.7 % of the best roc_auc".replace(" %", "%"))
    assert "31% of its cost" in text and "large earns" in text and "pays back" in text
    best = sentence(cands, 0, "roc_auc", quality)
    assert best.startswith("run large: it has the best roc_auc") and "int8 costs 31%" in best
    # value per prediction: int8 earns 0.30 - 0.29 - (10 - 3.1) / 1e6 less
    assert "keeps 99.7% of its roc_auc, but earns 0.00999 less per prediction" in best
    # the strongest cheaper alternative is named, not merely the cheapest
    cands.append(_cand("tiny", 0.80, 1.0, 0.10))
    named = sentence(cands, 0, "roc_auc", [0.95, 0.947, 0.80])
    assert "int8 costs 31%" in named and "tiny" not in named
    unvalued = [dict(c, expected_value=None) for c in cands]
    assert "but keeps only 99.7% of its roc_auc" in sentence(unvalued, 0, "roc_auc",
                                                              [0.95, 0.947, 0.80])


def test_share_of_quality_kept_for_a_lower_is_better_metric() -> None:
    from lathe.business.decide import _retained

    assert _retained(0.9, 0.95) == pytest.approx(0.9 / 0.95)
    assert _retained(-0.4, -0.1) == pytest.approx(0.25)  # rmse 0.4 against the best 0.1
