"""Windows, intervals, CBPE estimates and change points, on a model whose probabilities
are known (a fake with the loaded Model's surface)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from lathe.data.schema import Schema
from lathe.monitoring.cbpe import Calibrator, estimate, expected_auc
from lathe.monitoring.changes import change_points
from lathe.monitoring.intervals import wilson
from lathe.monitoring.performance import _weighted_auc, labelled_mask, performance_windows


class KnownModel:
    """Says P(y=1) = the column `p` (so its probabilities are calibrated by construction)."""

    def __init__(self, manifest: dict[str, Any] | None = None) -> None:
        self.schema = Schema([], target="y", task="binary", classes=[0, 1])
        self.task, self.classes, self.manifest = "binary", [0, 1], manifest or {}

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame["p"].to_numpy(dtype=float)
        return np.column_stack([1 - p, p])


def stream(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n)
    return pd.DataFrame({"p": p, "y": (rng.random(n) < p).astype(int)})


def test_windows_are_consecutive_rows_and_the_last_is_shorter() -> None:
    out = performance_windows(KnownModel(), stream(2500), 1000, source="s")
    assert [(w["start"], w["end"], w["n"]) for w in out["windows"]] == [
        (0, 1000, 1000), (1000, 2000, 1000), (2000, 2500, 500)]
    first = out["windows"][0]
    for key in ("accuracy", "f1", "roc_auc", "log_loss", "precision", "recall", "brier"):
        assert isinstance(first[key], float), key
    lo, hi = first["accuracy_ci"]
    assert lo < first["accuracy"] < hi
    assert first["roc_auc_ci"][0] < first["roc_auc"] < first["roc_auc_ci"][1]


def test_cbpe_matches_realised_accuracy_when_probabilities_are_calibrated() -> None:
    out = performance_windows(KnownModel(), stream(20_000, seed=3), 5000, source="s")
    for w in out["windows"]:
        assert abs(w["estimated_accuracy"] - w["accuracy"]) < 0.02
        assert abs(w["estimated_roc_auc"] - w["roc_auc"]) < 0.02
        lo, hi = w["estimated_accuracy_ci"]
        assert lo < w["estimated_accuracy"] < hi


def test_rows_without_labels_get_estimates_only() -> None:
    data = stream(1500)
    data["y"] = data["y"].astype("object")
    data.loc[1000:, "y"] = ""
    data.loc[10, "y"] = None
    assert labelled_mask(data, "y").sum() == 999
    out = performance_windows(KnownModel(), data, 1000, source="s")
    late = out["windows"][1]
    assert late["accuracy"] is None and late["n_labelled"] == 0
    assert 0.5 < late["estimated_accuracy"] < 1
    out = performance_windows(KnownModel(), data.drop(columns="y"), 1000, source="s")
    assert out["labelled_rows"] == 0 and out["change_points"] == []


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((81, 263), (0, 20), (20, 20), (730, 1000)):
        assert wilson(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"))


def test_weighted_auc_with_unit_weights_is_sklearns() -> None:
    rng = np.random.default_rng(1)
    score = np.round(rng.random(300), 2)  # ties
    y = rng.random(300) < score
    got = _weighted_auc(score, y, np.ones((1, 300)))[0]
    assert got == pytest.approx(skm.roc_auc_score(y, score))


def test_expected_auc_is_the_mean_auc_of_labels_drawn_from_the_probabilities() -> None:
    rng = np.random.default_rng(2)
    p = rng.beta(2, 2, 3000)
    draws = [skm.roc_auc_score(rng.random(3000) < p, p) for _ in range(50)]
    assert expected_auc(p, p) == pytest.approx(np.mean(draws), abs=0.005)


def test_isotonic_calibration_repairs_overconfident_scores() -> None:
    rng = np.random.default_rng(4)
    p = rng.beta(2, 2, 20_000)
    y = (rng.random(20_000) < p).astype(int)
    bent = np.where(p > 0.5, 1 - (1 - p) ** 3 * 4, p**3 * 4).clip(0, 1)  # overconfident
    raw = np.column_stack([1 - bent, bent])
    naive = estimate(raw[10_000:])["estimated_accuracy"]
    fixed = estimate(Calibrator.fit(raw[:10_000], y[:10_000])(raw[10_000:]))
    truth = float(np.mean((bent[10_000:] > 0.5) == y[10_000:]))
    assert abs(fixed["estimated_accuracy"] - truth) < 0.015 < abs(naive - truth)


def test_multiclass_estimate() -> None:
    rng = np.random.default_rng(5)
    p = rng.dirichlet([1, 1, 1], 4000)
    y = np.array([rng.choice(3, p=row) for row in p])
    est = estimate(p)
    assert est["estimated_accuracy"] == pytest.approx(np.mean(p.argmax(1) == y), abs=0.02)
    assert est["estimated_f1"] == pytest.approx(
        skm.f1_score(y, p.argmax(1), average="macro"), abs=0.03)


def test_river_detectors_reproduce_their_published_examples() -> None:
    # River's ADWIN and PageHinkley docstrings: this stream changes at row 1000 and is
    # detected at 1023 (ADWIN) and 1006 (Page-Hinkley)
    rng = random.Random(12345)
    data = np.array(rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000), float)
    rows = np.arange(len(data))
    adwin = change_points(data, rows, "adwin")
    assert adwin[0]["detected_at"] == 1023 and 990 <= adwin[0]["row"] <= 1023
    assert change_points(data, rows, "page_hinkley")[0]["detected_at"] == 1006


def test_decay_is_located_in_the_error_stream() -> None:
    data = stream(6000, seed=7)
    flipped = data.index >= 4000
    data.loc[flipped, "y"] = 1 - data.loc[flipped, "y"]  # concept drift: labels flip
    out = performance_windows(KnownModel(), data, 1000, source="s")
    began = out["change_points"][0]["row"]
    assert 3600 <= began < 4300  # ADWIN's estimate: detection minus the window it keeps
    assert out["windows"][began // 1000]["alarm"] == began
    assert out["windows"][5]["accuracy"] < 0.5 < out["windows"][5]["estimated_accuracy"]
