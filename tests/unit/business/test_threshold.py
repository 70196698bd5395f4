"""`evaluate --costs`: expected value, the best threshold, saved in the artifact and applied
by the loaded model and the server's predictor."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.business.value import best_threshold, threshold_value
from lathe.errors import UsageError

COSTS = "tp=0,tn=0,fp=-1,fn=-5"


def test_costs_give_the_expected_value_and_a_better_threshold(candidates) -> None:
    metrics = lathe.evaluate(candidates / "gbm", candidates / "hold.csv", costs=COSTS)
    value = metrics["value"]
    C = np.array(metrics["confusion_matrix"])
    pos = 1 if value["positive_class"] == str(lathe.load(candidates / "gbm").classes[1]) else 0
    V = np.zeros((2, 2))
    V[1 - pos, pos], V[pos, 1 - pos] = -1.0, -5.0  # a false positive, a false negative
    assert value["expected_value"] == pytest.approx((C * V).sum() / C.sum())
    assert value["expected_value_at_threshold"] >= value["expected_value_at_0_5"]
    assert value["expected_value_at_0_5"] == pytest.approx(value["expected_value"])
    assert 0 < value["threshold"] < 0.5  # false negatives cost more: call positive earlier


def test_saved_threshold_is_applied_by_the_model_and_the_server(candidates, tmp_path) -> None:
    from lathe.serving.predictor import Predictor

    art = tmp_path / "gbm"
    shutil.copytree(candidates / "gbm", art)
    hold = pd.read_csv(candidates / "hold.csv")
    metrics = lathe.evaluate(art, hold, costs=COSTS, save_threshold=True)
    model = lathe.load(art)  # hashes re-verified
    decision = model.manifest["decision"]
    assert decision["threshold"] == metrics["value"]["threshold"]
    pos = model.schema.positive_index
    proba = model.predict_proba(hold).iloc[:, pos].to_numpy()
    expected = np.where(proba >= decision["threshold"], model.classes[pos], model.classes[1 - pos])
    assert (model.predict(hold) == expected).all()
    assert (model.score_frame(hold)[0]["prediction"].to_numpy() == expected).all()
    assert (lathe.load(candidates / "gbm").predict(hold) != expected).any()  # it changed things
    predictor = Predictor("m", "1", model)
    rows = hold.drop(columns="income").head(200).astype(object)
    rows = rows.where(rows.notna(), None).to_dict("records")
    served = [r["label"] for r in predictor.predict_rows(rows)]
    assert served == list(expected[:200])


def test_threshold_chosen_on_other_rows_holds_up() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 4000)
    p = np.clip(0.35 * y + rng.random(4000) * 0.65, 0, 1)
    V = np.array([[0.0, -1.0], [-5.0, 0.0]])
    chosen = best_threshold(y[:2000], p[:2000], V)["threshold"]
    held = threshold_value(y[2000:], p[2000:], V, chosen)
    assert held >= threshold_value(y[2000:], p[2000:], V, 0.5)


def test_save_threshold_needs_costs_a_directory_and_a_binary_model(candidates) -> None:
    with pytest.raises(UsageError, match="needs --costs"):
        lathe.evaluate(candidates / "gbm", candidates / "hold.csv", save_threshold=True)
    with pytest.raises(UsageError, match="artifact directory"):
        lathe.evaluate("no-such-model", candidates / "hold.csv", costs=COSTS,
                       save_threshold=True)
    with pytest.raises(UsageError, match="number"):
        lathe.evaluate(candidates / "gbm", candidates / "hold.csv", costs="tp=lots")
