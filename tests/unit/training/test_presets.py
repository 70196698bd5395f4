"""Presets on small real samples: the family chosen, shapes, skill over a trivial baseline,
and the `best` preset's respect for its time budget."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lathe.data.infer import encode_labels, infer_schema
from lathe.data.schema import Schema
from lathe.models import FitData
from lathe.models.ensemble import Ensemble
from lathe.models.gbm import GBM
from lathe.training.presets import blend_weights, choose_family, fit_preset, simplex_weights

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
ADULT = DATA / "adult" / "train.csv"
WINE = DATA / "wine_quality" / "train.csv"
needs_data = pytest.mark.skipif(not ADULT.exists() or not WINE.exists(),
                                reason="shared datasets not present")


def _fit_data(frame: pd.DataFrame, target: str, task: str | None = None,
              budget: float | None = None) -> tuple[FitData, pd.DataFrame, np.ndarray]:
    """60% train, 20% valid, 20% test (rows in file order: the files are not sorted by label)."""
    schema = infer_schema(frame, target, task=task)
    n = len(frame)
    parts = [frame.iloc[: n * 6 // 10], frame.iloc[n * 6 // 10: n * 8 // 10],
             frame.iloc[n * 8 // 10:]]
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = [
        (schema.conform(p)[0], encode_labels(p[target], schema)) for p in parts]
    return FitData(schema, X_tr, y_tr, X_va, y_va, seed=0, threads=2,
                   time_budget_s=budget), X_te, y_te


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT, nrows=3000)


# ---- choose_family -----------------------------------------------------------------------------
def test_choose_family_gbm_for_tables_text_for_english_linear_for_chinese(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import lathe.training.presets as presets

    tabular = pd.DataFrame({"x": np.arange(50.0), "c": list("ab") * 25, "y": [0, 1] * 25})
    assert choose_family(infer_schema(tabular, "y")) == "gbm"
    words = ["great fun film", "dull slow plot", "loved every minute", "boring and long",
             "a real joy", "fell asleep twice"]
    text = pd.DataFrame({"review": [f"{w} number {i}" for i, w in enumerate(words * 10)],
                         "y": ["pos", "neg"] * 30})
    schema = infer_schema(text, "y", text_columns=["review"])
    assert schema.names_of("text") == ["review"]
    assert choose_family(schema) == "text"  # torch and the encoder are installed here
    chinese = pd.DataFrame({"review": ["房间很干净，服务很好", "太吵了，不会再来"] * 30,
                            "y": ["pos", "neg"] * 30})
    assert choose_family(infer_schema(chinese, "y", text_columns=["review"])) == "linear"
    # without the encoder package, English text falls back to TF-IDF
    monkeypatch.setattr(presets, "_encoder_installed", lambda: False)
    assert choose_family(schema) == "linear"


def test_text_blend_adds_tfidf_only_where_validation_says_so() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    schema = Schema(columns=[], target="y", task="multiclass", classes=["a", "b", "c"])
    sure = np.eye(3)[y] * 0.6 + 0.4 / 3  # right on every row
    wrong = np.eye(3)[(y + 1) % 3]  # confidently wrong on every row
    assert simplex_weights([sure, wrong], y, schema) == [1.0, 0.0]
    # each member right on half the rows, and the other one unsure there: the blend wins
    half_a = np.where(np.arange(6)[:, None] < 3, np.eye(3)[y], 1 / 3)
    half_b = np.where(np.arange(6)[:, None] >= 3, np.eye(3)[y], 1 / 3)
    weights = simplex_weights([half_a, half_b], y, schema)
    assert 0 < weights[1] < 1 and sum(weights) == pytest.approx(1.0)


# ---- blend_weights -----------------------------------------------------------------------------
def test_blend_weights_prefer_the_better_candidate_and_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, noisy = y + rng.normal(scale=0.1, size=400), y + rng.normal(scale=1.0, size=400)
    weights = blend_weights([noisy, good], y, Schema(columns=[], target="y", task="regression"))
    assert sum(weights) == pytest.approx(1.0)
    assert weights[1] > weights[0]


# ---- fast and best on real samples -------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("preset", ["fast", "best"])
def test_presets_on_adult_beat_the_prior(adult: pd.DataFrame, preset: str) -> None:
    data, X_test, y_test = _fit_data(adult, "income", budget=4.0 if preset == "best" else None)
    model = fit_preset(data, "auto", preset, {"learning_rate": 0.1})
    raw = model.predict_raw(X_test)
    assert raw.shape == (len(X_test), 2)
    np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-9)
    assert roc_auc_score(y_test, raw[:, 1]) > 0.85  # a constant prior scores 0.5
    accuracy = float((raw.argmax(axis=1) == y_test).mean())
    assert accuracy > max(np.mean(y_test), 1 - np.mean(y_test)) + 0.03
    if preset == "best":
        assert isinstance(model, Ensemble) and len(model.members) >= 1  # k per bag if time allows
        assert sum(model.weights) == pytest.approx(1.0)
    else:  # early-stopped on valid (lathe.train then refits it on every row)
        assert isinstance(model, GBM) and model.learning_curve


@needs_data
def test_fast_regression_on_wine_beats_predicting_the_mean() -> None:
    wine = pd.read_csv(WINE).sample(1500, random_state=0)
    data, X_test, y_test = _fit_data(wine, "quality", task="regression")
    pred = fit_preset(data, "gbm", "fast", {"learning_rate": 0.1}).predict_raw(X_test)
    assert pred.shape == (len(X_test),)
    rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
    assert rmse < 0.95 * float(np.std(y_test))


@needs_data
def test_best_multiclass_on_wine_gives_probabilities_per_class() -> None:
    wine = pd.read_csv(WINE).sample(1200, random_state=1)
    data, X_test, y_test = _fit_data(wine, "quality", task="multiclass", budget=4.0)
    model = fit_preset(data, "gbm", "best", {"learning_rate": 0.2, "folds": 3})
    raw = model.predict_raw(X_test)
    assert raw.shape == (len(X_test), data.schema.n_classes)
    np.testing.assert_allclose(raw.sum(axis=1), 1.0, atol=1e-9)
    majority = np.bincount(data.y_train).argmax()
    assert (raw.argmax(axis=1) == y_test).mean() > (y_test == majority).mean()


@needs_data
def test_best_respects_a_tiny_budget(adult: pd.DataFrame) -> None:
    data, X_test, _ = _fit_data(adult, "income", budget=0.3)
    started = time.monotonic()
    model = fit_preset(data, "gbm", "best", {"learning_rate": 0.05})
    assert time.monotonic() - started < 5.0
    assert isinstance(model, Ensemble) and len(model.members) >= 1
    assert model.predict_raw(X_test).shape == (len(X_test), 2)


@needs_data
def test_best_ensemble_round_trips_through_save_and_load(adult: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    data, X_test, _ = _fit_data(adult, "income", budget=2.0)
    model = fit_preset(data, "gbm", "best", {"learning_rate": 0.2, "folds": 3})
    model.save(tmp_path / "model")
    loaded = Ensemble.load(tmp_path / "model", data.schema)
    np.testing.assert_allclose(loaded.predict_raw(X_test), model.predict_raw(X_test), atol=1e-12)


@pytest.mark.text
def test_text_presets_blend_the_encoder_with_tfidf_on_validation(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 banking: pd.DataFrame) -> None:
    monkeypatch.setenv("LATHE_CACHE_DIR", str(tmp_path))
    top = banking["category"].value_counts().index[:6]
    frame = banking[banking["category"].isin(top)].groupby("category").head(60)
    schema = infer_schema(frame, "category")
    X, _ = schema.conform(frame)
    y = encode_labels(frame["category"], schema)
    rng = np.random.default_rng(0)
    part = rng.permutation(len(frame))
    train, valid, test = part[:200], part[200:280], part[280:]
    data = FitData(schema, X.iloc[train], y[train], X.iloc[valid], y[valid], threads=1)
    assert choose_family(schema) == "text"
    model = fit_preset(data, "text", "fast")
    if isinstance(model, Ensemble):  # the blend keeps only members with weight
        assert {m.name for m in model.members} <= {"text", "linear"}
        assert all(w > 0 for w in model.weights) and sum(model.weights) == pytest.approx(1.0)
    else:
        assert model.name in ("text", "linear")
    accuracy = (model.predict_raw(X.iloc[test]).argmax(1) == y[test]).mean()
    assert accuracy > 0.7  # six intents: chance is 1/6
    alone = fit_preset(data, "text", "fast", {"blend": False})
    assert alone.name == "text"


# ---- best linear: one featurisation, a grid of regularisation strengths ----------------------
def _sst2_sample(rows: int = 1500) -> pd.DataFrame:
    path = DATA / "sst2" / "train.csv"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return pd.read_csv(path).sample(rows, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("source", ["sst2", "adult"])
def test_linear_sweep_gives_what_separate_fits_give(source: str,
                                                    adult: pd.DataFrame) -> None:
    from lathe.models.linear import Linear

    # binary text (the plain + NB-weighted pair) and tabular (one-hot + scaled numbers)
    frame, target = (_sst2_sample(), "label") if source == "sst2" else (adult, "income")
    data, _, _ = _fit_data(frame, target)
    swept = Linear().sweep(data, "C", [0.3, 3.0])
    assert [c for c, _ in swept] == [0.3, 3.0]
    for C, raw in swept:
        alone = Linear(C=C).fit(data).predict_raw(data.X_valid)
        np.testing.assert_allclose(raw, alone, rtol=1e-6, atol=1e-9)
    assert not np.allclose(swept[0][1], swept[1][1])  # the strengths do differ


def test_best_linear_takes_the_best_validation_strength_and_fits_train_plus_valid(
        adult: pd.DataFrame) -> None:
    from lathe.models.linear import Linear

    data, _, _ = _fit_data(adult, "income")
    model = fit_preset(data, "linear", "best")
    grid = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    aucs = [roc_auc_score(data.y_valid, Linear(C=C).fit(data).predict_raw(data.X_valid)[:, 1])
            for C in grid]
    assert model.params["C"] == grid[int(np.argmax(aucs))]
    assert model.rows_fitted == len(data.X_train) + len(data.X_valid)
    # a pinned strength skips the grid
    assert fit_preset(data, "linear", "best", params={"C": 2.0}).params["C"] == 2.0
