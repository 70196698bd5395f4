"""business.value: value matrices, expected value, the best threshold, ROI."""

from __future__ import annotations

import numpy as np
import pytest

from lathe.business.value import (
    best_threshold,
    expected_value,
    parse_value_spec,
    replacement_economics,
    threshold_value,
    value_matrix,
)
from lathe.errors import ConfigError, UsageError


def test_correct_wrong_and_binary_cells() -> None:
    V = value_matrix(parse_value_spec("correct=0.40,wrong=-2.0"), ["a", "b", "c"])
    assert V.tolist() == [[0.4, -2, -2], [-2, 0.4, -2], [-2, -2, 0.4]]
    B = value_matrix({"tp": 1, "fp": -1, "tn": 0, "fn": -5}, ["no", "yes"])
    assert B.tolist() == [[0, -1], [-5, 1]]
    # the positive class first: the cells follow it
    P = value_matrix({"tp": 1, "fp": -1, "tn": 0, "fn": -5}, ["yes", "no"], positive=0)
    assert P.tolist() == [[1, -5], [-1, 0]]


def test_per_class_and_full_matrix_from_yaml(tmp_path) -> None:
    file = tmp_path / "costs.yaml"
    file.write_text("correct: 0.1\nwrong: -0.5\nclasses:\n  fraud: {correct: 50, wrong: -500}\n"
                    "matrix:\n  ok:\n    fraud: -3\n")
    V = value_matrix(parse_value_spec(str(file)), ["fraud", "ok"])
    assert V.tolist() == [[50, -500], [-3, 0.1]]


@pytest.mark.parametrize("spec", ["correct=a lot", "correct=0.4,wrong", "right=1"])
def test_bad_values_are_one_usage_error(spec: str) -> None:
    with pytest.raises(UsageError):
        value_matrix(parse_value_spec(spec), ["a", "b"])


def test_unknown_class_and_binary_keys_on_multiclass() -> None:
    with pytest.raises(UsageError, match="not one of the model's classes"):
        value_matrix({"classes": {"zebra": {"correct": 1}}}, ["a", "b"])
    with pytest.raises(UsageError, match="binary"):
        value_matrix({"tp": 1}, ["a", "b", "c"])


def test_broken_yaml_is_a_config_error(tmp_path) -> None:
    file = tmp_path / "v.yaml"
    file.write_text("correct: [unclosed\n")
    with pytest.raises(ConfigError):
        parse_value_spec(str(file))


def test_expected_value_is_the_confusion_weighted_mean() -> None:
    C = np.array([[50, 10], [5, 35]])
    V = np.array([[0.0, -1.0], [-5.0, 2.0]])
    assert expected_value(C, V) == pytest.approx((0 * 50 - 10 - 25 + 70) / 100)


def test_best_threshold_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(5, 300))
        y = rng.integers(0, 2, n)
        p = np.round(np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1), int(rng.integers(1, 4)))
        V = np.array([[rng.normal(), rng.normal() - 1], [rng.normal() - 3, rng.normal() + 1]])
        got = best_threshold(y, p, V)
        brute = max(threshold_value(y, p, V, t) for t in [*np.unique(p), 1.0 + 1e-9])
        assert got["expected_value"] == pytest.approx(brute), trial
        assert threshold_value(y, p, V, got["threshold"]) == pytest.approx(brute), trial
        assert got["expected_value"] >= got["expected_value_at_0.5"] - 1e-12


def test_replacement_economics_break_even() -> None:
    champion = {"model": "old", "expected_value": 0.10, "cost_per_million": 1.0}
    better = {"model": "new", "expected_value": 0.12, "cost_per_million": 3.0,
              "training_cost": 100.0}
    out = replacement_economics(better, champion, per_month=1e6)
    net = 0.02 - 2.0 / 1e6
    assert out["net_gain_per_prediction"] == pytest.approx(net)
    assert out["break_even_predictions"] == pytest.approx(100.0 / net)
    assert out["roi_first_month"] == pytest.approx((net * 1e6 - 100.0) / 100.0)
    worse = {"model": "bad", "expected_value": 0.05, "cost_per_million": 1.0}
    assert replacement_economics(worse, champion, None)["break_even_predictions"] is None
