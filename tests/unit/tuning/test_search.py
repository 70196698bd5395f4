"""`tune` on a small real sample of Adult: samplers, pruning, CV, resume, Pareto front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe.api
from lathe.errors import ConfigError, Conflict, UsageError
from lathe.tuning import tune

FAST = {"n_estimators": 40, "early_stopping_rounds": 10}


@pytest.fixture(scope="module")
def sample(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(1500).reset_index(drop=True)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def test_tune_returns_best_params_trials_and_a_refitted_model(sample: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    result = tune(sample, "income", trials=5, storage=_url(tmp_path), study_name="s", seed=1,
                  threads=1, space_overrides=FAST)
    assert result.counts == {"complete": 5}
    assert sorted(result.trials["number"]) == [0, 1, 2, 3, 4]
    best_row = result.trials.loc[result.trials["value"].idxmax()]
    assert result.best_value == pytest.approx(best_row["value"])
    assert result.best_params["learning_rate"] == pytest.approx(best_row["params_learning_rate"])
    assert result.best_params["n_estimators"] == 40  # pinned values are part of the params
    assert 0.5 < result.best_value <= 1.0 and result.metric == "roc_auc"
    model = result.model
    assert isinstance(model, lathe.api.Model) and model.family.name == "gbm"
    assert model.manifest["tuning"]["best_params"] == result.best_params
    assert model.manifest["metrics"]["test"]["roc_auc"] > 0.7
    # scored on the test split, then refitted on every labelled row, as `lathe train` does
    assert model.manifest["lineage"]["rows"]["refit"] == len(sample)
    assert model.manifest["training"]["refit"]["rows"] == len(sample)
    saved = lathe.api.load(model.save(tmp_path / "model"))
    assert saved.manifest["tuning"]["trials"] == {"complete": 5}
    rows = sample.head(20)
    assert np.allclose(saved.predict_proba(rows), model.predict_proba(rows))


def test_a_new_study_starts_from_the_family_defaults(sample: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    from lathe.models.gbm import GBM

    result = tune(sample, "income", trials=3, storage=_url(tmp_path), study_name="d", seed=3,
                  threads=1, space_overrides=FAST)
    first = result.trials.sort_values("number").iloc[0]
    defaults = GBM.default_params()
    assert first["params_learning_rate"] == pytest.approx(defaults["learning_rate"])
    assert first["params_num_leaves"] == defaults["num_leaves"]
    assert first["params_lambda_l2"] == pytest.approx(1e-3)  # default 0 clipped into the range
    # the other trials are the sampler's own, not copies of the start
    assert result.trials["params_learning_rate"].nunique() == 3


def test_cross_validation_prunes_hopeless_trials_after_the_first_fold(sample: pd.DataFrame,
                                                                     tmp_path: Path) -> None:
    # min_child_samples up to the whole sample: many trials cannot split and score AUC 0.5
    space = {**FAST, "min_child_samples": {"low": 5, "high": 1500}}
    result = tune(sample, "income", trials=14, cv_folds=3, sampler="random", pruner="median",
                  storage=_url(tmp_path), study_name="cv", threads=1, space_overrides=space)
    table = result.trials
    pruned = table[table["state"] == "PRUNED"]
    complete = table[table["state"] == "COMPLETE"]
    assert len(pruned) >= 1 and len(pruned) + len(complete) == 14
    assert all(len(f) < 3 for f in pruned["user_attrs_fold_scores"])
    assert all(len(f) == 3 for f in complete["user_attrs_fold_scores"])
    assert result.best_value == pytest.approx(max(np.mean(f) for f in complete["user_attrs_fold_scores"]))


def test_a_study_resumes_and_only_runs_the_missing_trials(sample: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    first = tune(sample, "income", trials=2, storage=_url(tmp_path), threads=1,
                 space_overrides=FAST, refit=False)
    second = tune(sample, "income", trials=4, storage=_url(tmp_path), threads=1,
                  space_overrides=FAST, refit=False)
    assert first.study_name == second.study_name  # derived from data, target and family
    assert second.counts == {"complete": 4}
    assert sorted(second.trials["number"]) == [0, 1, 2, 3]
    with pytest.raises(Conflict, match="optimises"):
        tune(sample, "income", trials=4, storage=_url(tmp_path), objectives="auc,latency",
             study_name=first.study_name, threads=1, space_overrides=FAST)


def test_grid_sampler_walks_the_discretised_grid(sample: pd.DataFrame, tmp_path: Path) -> None:
    space = {**FAST, "num_leaves": {"low": 8, "high": 32}, "learning_rate": 0.1,
             "min_child_samples": 20, "feature_fraction": 0.8, "bagging_fraction": 1.0,
             "lambda_l2": 1.0}
    result = tune(sample, "income", trials=3, sampler="grid", storage=_url(tmp_path),
                  threads=1, space_overrides=space, refit=False)
    assert sorted(result.trials["params_num_leaves"]) == [8, 16, 32]


def test_two_objectives_give_a_pareto_front_saved_model_by_model(sample: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    result = tune(sample, "income", trials=5, sampler="nsga2", objectives=("quality", "latency"),
                  storage=_url(tmp_path), threads=1, space_overrides=FAST)
    assert result.directions == ["maximize", "minimize"] and result.pareto_front
    for entry in result.pareto_front:
        others = [f for f in result.pareto_front if f is not entry]
        assert not any(o["values"]["quality"] >= entry["values"]["quality"]
                       and o["values"]["latency"] < entry["values"]["latency"] for o in others)
    path = result.save(tmp_path / "best")
    saved = sorted(p.name for p in (path / "pareto").iterdir())
    assert "pareto.png" in saved
    assert len([s for s in saved if s.startswith("trial-")]) == len(result.pareto_front)


def test_parameter_errors_say_what_is_allowed(sample: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tpe"):
        tune(sample, "income", sampler="bayes", storage=_url(tmp_path))
    with pytest.raises(ConfigError, match="median"):
        tune(sample, "income", pruner="sometimes", storage=_url(tmp_path))
    with pytest.raises(UsageError, match="objective"):
        tune(sample, "income", objectives="speed", storage=_url(tmp_path))
    with pytest.raises(UsageError, match="cv_folds"):
        tune(sample, "income", cv_folds=1, storage=_url(tmp_path))


def test_bag_refits_the_best_parameters_over_folds(sample: pd.DataFrame, tmp_path: Path) -> None:
    result = tune(sample, "income", trials=2, storage=_url(tmp_path), study_name="b", seed=0,
                  threads=1, space_overrides=FAST, bag_folds=3)
    family = result.model.family
    assert family.name == "ensemble" and len(family.members) == 3
    assert family.weights == pytest.approx([1 / 3] * 3)
    for member in family.members:  # each member carries the tuned parameters
        assert member.params["learning_rate"] == pytest.approx(result.best_params["learning_rate"])
    assert result.model.manifest["metrics"]["test"]["roc_auc"] > 0.7
    with pytest.raises(UsageError, match="gbm family and at least 2 folds"):
        tune(sample, "income", model="linear", trials=1, storage=_url(tmp_path), bag_folds=3)


def test_sampler_seed_changes_the_draws_but_not_the_split(sample: pd.DataFrame,
                                                           tmp_path: Path) -> None:
    runs = [tune(sample, "income", trials=4, storage=_url(tmp_path), study_name=f"seed{s}",
                 seed=0, sampler_seed=s, threads=1, space_overrides=FAST, sampler="random",
                 refit=False) for s in (1, 2)]
    first, second = (r.trials.sort_values("number") for r in runs)
    assert not np.allclose(first["params_learning_rate"], second["params_learning_rate"])
    # the same rows and folds: the same parameters would score the same
    prepared = [r._context["prepared"] for r in runs]
    assert prepared[0].dataset_hash == prepared[1].dataset_hash
    pd.testing.assert_frame_equal(prepared[0].X_test, prepared[1].X_test)
