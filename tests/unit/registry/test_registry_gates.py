from __future__ import annotations

import math

import pytest

from lathe.errors import GateFailed
from lathe.registry.gates import DEFAULT_TOLERANCE, compare_metric, enforce, gate_metric


@pytest.mark.parametrize(
    ("metric", "candidate", "champion", "passed"),
    [
        ("roc_auc", 0.85, 0.80, True),  # better
        ("roc_auc", 0.799, 0.80, True),  # worse, within tolerance
        ("roc_auc", 0.79, 0.80, False),  # worse beyond tolerance
        ("rmse", 2.9, 3.0, True),  # lower is better
        ("rmse", 3.001, 3.0, True),
        ("rmse", 3.1, 3.0, False),
        ("log_loss", 0.5, 0.4, False),
    ],
)
def test_compare_metric_respects_direction_and_tolerance(metric, candidate, champion, passed):
    decision = compare_metric(metric, candidate=candidate, champion=champion)
    assert decision.passed is passed
    assert decision.tolerance == DEFAULT_TOLERANCE
    assert decision.higher_is_better is (metric == "roc_auc")


def test_no_champion_passes_unless_nan() -> None:
    assert compare_metric("accuracy", candidate=0.1, champion=None).passed
    assert not compare_metric("accuracy", candidate=math.nan, champion=None).passed


def test_tolerance_is_configurable() -> None:
    assert compare_metric("accuracy", candidate=0.7, champion=0.8, tolerance=0.15).passed
    assert not compare_metric("accuracy", candidate=0.7, champion=0.8, tolerance=0.05).passed


def test_gate_metric_defaults_to_primary() -> None:
    assert gate_metric("binary") == "roc_auc"
    assert gate_metric("multiclass") == "accuracy"
    assert gate_metric("regression") == "rmse"
    assert gate_metric("binary", "f1") == "f1"


def test_enforce_prints_both_values() -> None:
    decision = compare_metric("roc_auc", candidate=0.7123, champion=0.8456)
    with pytest.raises(
        GateFailed, match=r"candidate churn:3 = 0\.7123.*champion churn:2 = 0\.8456"
    ):
        enforce(decision, "churn:3", "churn:2")
    enforce(compare_metric("roc_auc", candidate=0.9, champion=0.8), "churn:3", "churn:2")
