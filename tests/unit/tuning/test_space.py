"""Search spaces: the family's space, narrowed, pinned and widened by overrides; grids."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from lathe.errors import ConfigError, NotFound
from lathe.models.gbm import GBM
from lathe.models.linear import Linear
from lathe.tuning.space import grid_from_space, load_space_overrides, recorded_space, suggest_params


def test_family_space_is_recorded_unchanged_without_overrides() -> None:
    space = recorded_space(GBM)
    assert space["learning_rate"] == {"low": 0.01, "high": 0.2, "log": True, "kind": "float"}
    assert space["bagging_freq"] == 1  # pinned by the family itself
    assert set(recorded_space(Linear)) == {"C", "alpha"}


def test_overrides_narrow_pin_and_widen() -> None:
    overrides = {"num_leaves": {"low": 16, "high": 32}, "learning_rate": 0.1,
                 "max_bin": {"choices": [63, 127]}}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(20):
        trial = study.ask()
        params = suggest_params(GBM, trial, overrides)
        seen.append(params)
        study.tell(trial, 0.0)
    assert all(16 <= p["num_leaves"] <= 32 for p in seen)
    assert {p["learning_rate"] for p in seen} == {0.1}
    assert {p["max_bin"] for p in seen} == {63, 127}
    assert "learning_rate" not in study.trials[0].params  # pinned values are not searched


def test_grid_discretises_ranges_and_keeps_choices() -> None:
    grid = grid_from_space(recorded_space(GBM, {"num_leaves": {"low": 8, "high": 32},
                                                "max_bin": {"choices": [63, 255]}}))
    assert grid["num_leaves"] == [8, 16, 32]  # log range -> geometric points
    assert grid["max_bin"] == [63, 255]
    assert grid["bagging_freq"] == [1]
    assert grid_from_space({"x": {"low": 0.0, "high": 1.0, "log": False, "kind": "float"}},
                           points=5) == {"x": [0.0, 0.25, 0.5, 0.75, 1.0]}


def test_bad_override_names_the_parameter() -> None:
    with pytest.raises(ConfigError, match="num_leaves"):
        recorded_space(GBM, {"num_leaves": {"low": 64, "high": 16}})
    with pytest.raises(ConfigError, match="low and high"):
        recorded_space(GBM, {"num_leaves": {"high": 16}})


def test_overrides_load_from_yaml(tmp_path: Path) -> None:
    flat = tmp_path / "space.yaml"
    flat.write_text("num_leaves: {low: 16, high: 64}\nmax_bin: 63\n")
    nested = tmp_path / "lathe.yaml"
    nested.write_text("tune:\n  space:\n    lambda_l2: {low: 0.1, high: 1.0, log: true}\n")
    assert load_space_overrides(flat) == {"num_leaves": {"low": 16, "high": 64}, "max_bin": 63}
    assert load_space_overrides(nested)["lambda_l2"]["log"] is True
    with pytest.raises(NotFound):
        load_space_overrides(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_space_overrides(bad)
