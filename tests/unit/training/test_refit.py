"""Refit on every labelled row once the test split is scored (`train.refit`): what each
family keeps from its first fit, the time budget, and what the manifest records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.data.infer import encode_labels, infer_schema
from lathe.data.split import split_frame
from lathe.models import FitData, get_family
from lathe.models.ensemble import REFIT_COST, Ensemble
from lathe.training.presets import refit_on_all


@pytest.fixture(scope="module")
def parts(adult_small: pd.DataFrame):  # noqa: ANN201
    schema = infer_schema(adult_small, "income")
    train, valid, test = split_frame(adult_small, "income", valid_size=0.2, test_size=0.2, seed=0)

    def xy(part: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        return schema.conform(part)[0], encode_labels(part["income"], schema)

    (X, y), (Xv, yv), (Xt, yt) = xy(train), xy(valid), xy(test)
    everything = FitData(schema, pd.concat([X, Xv]), np.concatenate([y, yv]), seed=0, threads=1)
    return FitData(schema, X, y, Xv, yv, seed=0, threads=1), everything, (Xt, yt)


def test_gbm_refit_boosts_the_early_stopped_rounds_scaled_by_rows(parts) -> None:  # noqa: ANN001
    first_data, everything, _ = parts
    first = get_family("gbm")(learning_rate=0.1).fit(first_data)
    assert 0 < first.best_iteration < 3000  # early-stopped on valid
    refitted = get_family("gbm").refit(first, everything)
    expected = round(first.best_iteration * len(everything.X_train) / len(first_data.X_train))
    assert refitted.params["n_estimators"] == expected > first.best_iteration
    assert refitted.booster.current_iteration() == expected  # no validation, no early stop
    assert refitted.rows_fitted == len(everything.X_train)


def test_gbm_refit_that_the_budget_cuts_short_is_refused(parts) -> None:  # noqa: ANN001
    first_data, everything, _ = parts
    first = get_family("gbm")(learning_rate=0.01, n_estimators=4000,
                              early_stopping_rounds=4000).fit(first_data)
    tiny = FitData(everything.schema, everything.X_train, everything.y_train, seed=0,
                   threads=1, time_budget_s=1e-6)
    assert first.refit(tiny) is None  # a truncated booster would be worse than the first fit


def test_ensemble_refit_gives_each_member_its_own_seed_and_keeps_the_weights(
        parts) -> None:  # noqa: ANN001
    first_data, everything, (Xt, _) = parts
    bag = [get_family("gbm")(learning_rate=0.1, feature_fraction=0.5).fit(first_data)
           for _ in range(2)]
    ensemble = Ensemble(bag, [0.3, 0.7])
    ensemble.schema = first_data.schema
    refitted = ensemble.refit(everything)
    assert refitted.weights == ensemble.weights
    assert all(new is not old for new, old in zip(refitted.members, bag, strict=True))
    # same parameters, same rows: only the seed keeps the two boosters different
    a, b = (m.predict_raw(Xt) for m in refitted.members)
    assert not np.allclose(a, b)


def test_ensemble_keeps_a_member_whose_refit_the_budget_would_not_cover(
        parts) -> None:  # noqa: ANN001
    first_data, everything, _ = parts
    cheap = get_family("linear")().fit(first_data)
    cheap.fit_seconds = 0.1
    costly = get_family("gbm")(learning_rate=0.1).fit(first_data)
    costly.fit_seconds = 50.0
    ensemble = Ensemble([cheap, costly], [0.5, 0.5])
    ensemble.schema = first_data.schema.__class__.from_dict(first_data.schema.to_dict())
    budget = 50.0 * REFIT_COST - 1
    refitted = ensemble.refit(FitData(everything.schema, everything.X_train,
                                      everything.y_train, seed=0, time_budget_s=budget))
    assert refitted.members[0] is not cheap and refitted.members[1] is costly
    assert any("1 of 2 ensemble members kept" in note for note in ensemble.schema.notes)


def test_torch_refit_trains_the_best_epoch_count_without_validation(parts) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    first_data, everything, _ = parts
    first = get_family("mlp")(max_epochs=6, patience=2).fit(first_data)
    best = first.loop_summary["best_epoch"]
    refitted = first.refit(everything)
    assert refitted.params["max_epochs"] == best + 1
    assert refitted.loop_summary["epochs_run"] == best + 1
    assert refitted.learning_curve == first.learning_curve


def test_refit_on_all_records_a_skip_instead_of_overrunning_the_budget(
        parts) -> None:  # noqa: ANN001
    first_data, everything, _ = parts
    first = get_family("linear")().fit(first_data)
    first.fit_seconds = 30.0
    kept, record = refit_on_all(first, everything, budget_s=10.0)
    assert kept is first and record["rows"] is None and "time budget" in record["skipped"]
    kept, record = refit_on_all(first, everything, budget_s=0.5)
    assert kept is first and "spent" in record["skipped"]
    refitted, record = refit_on_all(first, everything, budget_s=None)
    assert refitted is not first and record["rows"] == len(everything.X_train)


def test_train_refits_after_scoring_and_the_manifest_says_so(adult_small: pd.DataFrame,
                                                              tmp_path: Path) -> None:
    frame = adult_small.head(1500)
    plain = lathe.train(frame, "income", refit=False, threads=1)
    refitted = lathe.train(frame, "income", threads=1)
    rows = plain.manifest["lineage"]["rows"]
    assert plain.manifest["lineage"]["rows"]["refit"] is None
    assert refitted.manifest["lineage"]["rows"]["refit"] == rows["train"] + rows["valid"] \
        + rows["test"] == len(frame)
    # the test metrics are those of the first fit, which is the same model in both runs
    assert refitted.manifest["metrics"]["test"] == plain.manifest["metrics"]["test"]
    assert not np.allclose(refitted.predict_raw(frame), plain.predict_raw(frame))
    assert any("refitted on all 1500 labelled rows" in n for n in refitted.schema.notes)
    path = refitted.save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["training"]["refit"]["rows"] == len(frame)
    assert manifest["config"]["train"]["refit"] is True
    np.testing.assert_allclose(lathe.load(path).predict_raw(frame), refitted.predict_raw(frame))


def test_a_catch_all_model_keeps_its_calibrated_first_fit(banking: pd.DataFrame) -> None:
    top = banking["category"].value_counts().index[:6]
    frame = banking[banking["category"].isin(top)].copy()
    frame.loc[frame["category"] == top[5], "category"] = "oos"
    model = lathe.train(frame, "category", model="linear", abstain_rate=0.1, threads=1)
    assert model.family.name == "catch_all"
    record = model.manifest["training"]["refit"]
    assert record["rows"] is None and "catch_all" in record["skipped"]
