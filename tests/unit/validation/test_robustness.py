"""Perturbations: what they change, and robustness results on real small models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lathe.validation._scored import score_rows
from lathe.validation.robustness import run_robustness
from lathe.validation.robustness._perturb import TABULAR, TEXT, UNSEEN, noise, to_width, typos


def test_typos_come_at_one_per_ten_characters() -> None:
    rng = np.random.default_rng(0)
    text = "please send me a new card because mine was stolen yesterday"
    changed = [typos(text, rng) for _ in range(200)]
    assert all(c != text for c in changed)
    assert abs(np.mean([len(c) for c in changed]) - len(text)) < 1.5


def test_noise_stays_within_the_columns_spread() -> None:
    frame = pd.DataFrame({"x": np.arange(1000.0)})
    moved = noise(frame, ["x"], np.random.default_rng(0))["x"] - frame["x"]
    assert 0.08 * frame.x.std() < moved.std() < 0.12 * frame.x.std()


def test_width_and_chinese_forms_round_trip() -> None:
    assert to_width(to_width("Hello, 世界！")) == "Hello, 世界！"
    frame = pd.DataFrame({"t": ["这家酒店很干净", None]})
    out = TEXT["traditional_chinese"][1](frame, ["t"], np.random.default_rng(0))
    assert out.t.iloc[0] == "這家酒店很乾淨" and pd.isna(out.t.iloc[1])


def test_tabular_suite_on_adult(adult_model) -> None:
    model, _, holdout = adult_model
    scored = score_rows(model, holdout)
    out = run_robustness(model, scored, list(TABULAR))
    res = out["robustness"]
    assert res["column_order"]["flip_rate"] == 0.0  # columns are matched by name
    assert res["missing_values"]["flip_rate"] > 0
    assert res["unseen_categories"]["columns"] and UNSEEN not in model.schema.column(
        res["unseen_categories"]["columns"][0]).categories
    checks = {c["name"]: c for c in out["checks"]}
    assert checks["robustness.column_order"]["passed"]
    tight = run_robustness(model, scored, ["missing_values"], thresholds={"missing_values": -1})
    assert not tight["checks"][0]["passed"]


def test_text_suite_on_banking(banking_model) -> None:
    model, holdout = banking_model
    scored = score_rows(model, holdout.head(400))
    res = run_robustness(model, scored, ["typos", "case", "width", "traditional_chinese"])
    typo = res["robustness"]["typos"]
    assert typo["n"] == 400 and typo["accuracy_drop"] > 0 and typo["flip_rate"] > 0
    # English has no Chinese to convert: nothing may change
    assert res["robustness"]["traditional_chinese"]["flip_rate"] == 0.0
