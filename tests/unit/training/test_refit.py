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
from lathe.models.ensemble import Ensemble
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
    cheap.fit_seconds, cheap.rows_fitted = 0.1, len(first_data.X_train)
    costly = get_family("gbm")(learning_rate=0.1).fit(first_data)
    costly.fit_seconds = 50.0
    ensemble = Ensemble([cheap, costly], [0.5, 0.5])
    ensemble.schema = first_data.schema
    notes = list(first_data.schema.notes)
    budget = costly.refit_seconds(len(everything.X_train)) - 1  # rows and rounds: ratio^2
    assert budget > 50.0
    refitted = ensemble.refit(FitData(everything.schema, everything.X_train,
                                      everything.y_train, seed=0, time_budget_s=budget))
    assert refitted.members[0] is not cheap and refitted.members[1] is costly
    assert refitted.refit_report == {"members_refitted": 1, "members_kept": 1}
    assert first_data.schema.notes == notes  # refit leaves the first model and its schema be
    model, record = refit_on_all(ensemble, FitData(everything.schema, everything.X_train,
                                                   everything.y_train, seed=0), budget)
    assert record["members_kept"] == 1 and record["rows"] == len(everything.X_train)


def test_a_loaded_gbm_refits_from_its_saved_rounds(parts, tmp_path: Path) -> None:  # noqa: ANN001
    first_data, everything, _ = parts
    first = get_family("gbm")(learning_rate=0.1).fit(first_data)
    first.save(tmp_path / "gbm")
    loaded = get_family("gbm").load(tmp_path / "gbm", first_data.schema)
    refitted = loaded.refit(everything)
    assert refitted is not None
    assert refitted.params["n_estimators"] == first.refit(everything).params["n_estimators"]


def test_torch_refit_trains_the_best_epoch_count_without_validation(parts) -> None:  # noqa: ANN001
    pytest.importorskip("torch")
    first_data, everything, _ = parts
    first = get_family("mlp")(max_epochs=6, patience=2).fit(first_data)
    best = first.loop_summary["best_epoch"]
    refitted = first.refit(everything)
    assert refitted.params["max_epochs"] == best + 1
    assert refitted.loop_summary["epochs_run"] == best + 1
    assert refitted.learning_curve == first.learning_curve
    assert refitted.feature_importance() == first.feature_importance()  # held-out, not in-sample


def test_a_refit_keeps_its_last_epoch_even_when_the_fit_watched_accuracy(
        banking: pd.DataFrame) -> None:
    torch = pytest.importorskip("torch")
    from lathe.models.torch_loop import LoopConfig, train_loop

    # without validation the loop ends on its last epoch (a training loss is never "higher
    # is better"), so a refit trains exactly the epochs it was given
    net = torch.nn.Linear(3, 2)
    X, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    calls = [0]

    def rising_loss(m, b):  # noqa: ANN001, ANN202 - a loss that grows every step
        calls[0] += 1
        return torch.nn.functional.cross_entropy(m(b[0]), b[1]) + calls[0]

    snapshots: list = []
    result = train_loop(net, (X, y), rising_loss, None,
                        LoopConfig(max_epochs=4, patience=4, higher_is_better=True, lr=0.1),
                        [lambda event, info: snapshots.append(net.weight.detach().clone())])
    assert result.epochs_run == 4 and result.best_epoch == 0  # lowest training loss: epoch 1
    assert torch.equal(net.weight, snapshots[-1])  # ... yet the module ends on its last epoch
    assert not torch.equal(net.weight, snapshots[0])
    top = banking["category"].value_counts().index[:3]
    frame = banking[banking["category"].isin(top)].groupby("category").head(30)
    model = lathe.train(frame, "category", model="text", threads=1,
                        params={"early_stopping_metric": "accuracy", "max_epochs": 6,
                                "blend": False})
    first = model.family.loop_summary["first_fit"]
    assert model.family.loop_summary["epochs_run"] == first["best_epoch"] + 1


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


def test_a_voting_model_refits_its_members_and_keeps_its_weights(adult_small: pd.DataFrame,
                                                                  tmp_path: Path) -> None:
    frame = adult_small.head(1500)
    first = lathe.train(frame, "income", model="voting", refit=False, threads=1)
    model = lathe.train(frame, "income", model="voting", threads=1)
    assert model.family.name == "voting" and model.family.weights == first.family.weights
    record = model.manifest["training"]["refit"]
    assert record["rows"] == len(frame)
    assert record["members_refitted"] == len(model.family.members) and not record["members_kept"]
    for new, old in zip(model.family.members, first.family.members, strict=True):
        assert not np.allclose(new.predict_raw(first.schema.conform(frame)[0]),
                               old.predict_raw(first.schema.conform(frame)[0]))
    path = model.save(tmp_path / "v")
    np.testing.assert_allclose(lathe.load(path).predict_raw(frame), model.predict_raw(frame))


def test_a_stacking_model_refits_its_bases_and_keeps_its_meta_learner(
        adult_small: pd.DataFrame, tmp_path: Path) -> None:
    frame = adult_small.head(1500)
    first = lathe.train(frame, "income", model="stacking", refit=False, threads=1)
    model = lathe.train(frame, "income", model="stacking", threads=1)
    record = model.manifest["training"]["refit"]
    assert record["rows"] == len(frame)
    assert record["members_refitted"] == len(model.family.members) and not record["members_kept"]
    assert any("refitted on all 1500 labelled rows" in n for n in model.schema.notes)
    # same meta learner (the first fits are identical), bases that saw more rows
    np.testing.assert_allclose(model.family.meta.coef_, first.family.meta.coef_)
    X = first.schema.conform(frame)[0]
    for new, old in zip(model.family.members, first.family.members, strict=True):
        assert not np.allclose(new.predict_raw(X), old.predict_raw(X))
    assert all(m.fit_seconds is not None for m in first.family.members)  # budgets a refit
    path = model.save(tmp_path / "s")
    np.testing.assert_allclose(lathe.load(path).predict_raw(frame), model.predict_raw(frame))


def test_a_catch_all_model_refits_its_classifier_around_the_calibrated_rule(
        banking: pd.DataFrame, tmp_path: Path) -> None:
    top = banking["category"].value_counts().index[:6]
    frame = banking[banking["category"].isin(top)].copy()
    frame.loc[frame["category"] == top[5], "category"] = "oos"
    first = lathe.train(frame, "category", model="linear", abstain_rate=0.1, threads=1,
                        refit=False)
    model = lathe.train(frame, "category", model="linear", abstain_rate=0.1, threads=1)
    assert model.family.name == first.family.name == "catch_all"
    assert model.manifest["training"]["refit"]["rows"] == len(frame)
    # the rule was calibrated on validation rows the refitted classifier has seen: kept
    assert model.family.threshold == first.family.threshold
    assert model.family.stats == first.family.stats
    assert "kept from the validation split" in model.family.calibration["refit"]
    X = model.schema.conform(frame.head(50))[0]
    assert not np.allclose(model.family.member.predict_raw(X), first.family.member.predict_raw(X))
    path = model.save(tmp_path / "m")
    np.testing.assert_allclose(lathe.load(path).predict_raw(frame.head(50)),
                               model.predict_raw(frame.head(50)))
