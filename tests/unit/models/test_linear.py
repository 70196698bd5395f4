"""The linear family on text: NB-weighted features for binary labels (beside a plain model in
the presets), Chinese without flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from lathe import api
from lathe.errors import ConfigError
from lathe.models._log_count_ratio import LogCountRatio, PlainAndNBLogistic
from lathe.models._text_features import TextVectorizer

CHNSENTICORP = Path(__file__).resolve().parents[4] / "shared" / "data" / "chnsenticorp_htl" / "train.csv"


def test_log_count_ratio_passes_multiclass_features_through() -> None:
    X = csr_matrix(np.eye(3))
    ratio = LogCountRatio().fit(X, np.array([0, 1, 2]))
    assert (ratio.transform(X) != X).nnz == 0


@pytest.mark.skipif(not CHNSENTICORP.exists(), reason=f"{CHNSENTICORP} is not present")
def test_chinese_reviews_train_as_a_plain_and_an_nb_weighted_char_ngram_model(
        tmp_path: Path) -> None:
    frame = pd.read_csv(CHNSENTICORP).dropna()
    frame = frame.sample(2500, random_state=0)
    model = api.train(frame, target="label", threads=1)
    assert model.family.name == "linear"  # auto: MiniLM does not read Chinese
    assert model.schema.column("review").language == "zh"
    pipeline = model.family.pipeline
    text = pipeline.named_steps["features"].named_transformers_["text_review"]
    assert isinstance(text, TextVectorizer)  # one featurisation, shared by both halves
    assert text.vectorizer_.analyzer == "char" and text.vectorizer_.ngram_range == (1, 4)
    pair = pipeline.named_steps["estimator"]
    assert isinstance(pair, PlainAndNBLogistic)
    assert pair.weighted == [(0, len(text.vectorizer_.vocabulary_))]
    assert pair.ratio_.min() < -1 and pair.ratio_.max() > 1  # characters lean one way or other
    rows = pipeline.named_steps["features"].transform(frame.head(20))
    halves = [pair.plain_.predict_proba(rows), pair.nb_.predict_proba(pair._scaled(rows))]
    np.testing.assert_allclose(pair.predict_proba(rows), (halves[0] + halves[1]) / 2)
    assert not np.allclose(halves[0], halves[1])
    test = model.manifest["metrics"]["test"]
    assert test["accuracy"] > 0.85
    assert [row["class"] for row in test["per_class"]] == ["0", "1"]  # per-class metrics
    assert all(row["f1"] > 0.7 for row in test["per_class"])
    assert model.explain(frame.head(2)) is not None  # importances through the pair's coef_
    model.save(tmp_path / "chn")
    np.testing.assert_allclose(api.load(tmp_path / "chn").predict_proba(frame.head(20)),
                               model.predict_proba(frame.head(20)))


def _reviews() -> pd.DataFrame:
    reviews = ["房间很干净，服务很好", "太吵了，不会再来", "早餐丰富，位置方便", "空调坏了，很失望"]
    return pd.DataFrame({"review": [f"{r}{i}" for i, r in enumerate(reviews * 15)],
                         "stars": np.arange(60) % 5, "y": ["pos", "neg"] * 30})


@pytest.mark.parametrize(("setting", "estimator", "nb_step"), [
    (True, LogisticRegression, True), (False, LogisticRegression, False),
    ("pair", PlainAndNBLogistic, False)])
def test_nb_weighting_chooses_how_binary_text_is_weighted(setting: object, estimator: type,
                                                          nb_step: bool) -> None:
    model = api.train(_reviews(), target="y", model="linear", text_columns=["review"],
                      params={"nb_weighting": setting}, threads=1).family
    steps = model.pipeline.named_steps
    assert type(steps["estimator"]) is estimator
    text = steps["features"].named_transformers_["text_review"]
    assert isinstance(text, Pipeline) == nb_step
    if setting == "pair":  # the numeric column is left unweighted
        stars = steps["features"].output_indices_["num"]
        assert (steps["estimator"].ratio_[stars] == 1.0).all()
        assert steps["estimator"].coef_.shape == (1, len(steps["estimator"].ratio_))


def test_an_unknown_nb_weighting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nb_weighting"):
        api.train(_reviews(), target="y", model="linear", text_columns=["review"],
                  params={"nb_weighting": "yes"}, threads=1)


def test_a_text_column_of_bare_punctuation_still_trains() -> None:
    # no word at all: the word n-grams' vocabulary is empty, so characters stand in
    frame = pd.DataFrame({"t": ["!!!", "??", "...", "!?"] * 10, "y": ["a", "b"] * 20})
    model = api.train(frame, target="y", model="linear", text_columns=["t"], threads=1)
    assert model.predict_proba(frame.head(4)).shape == (4, 2)
    gbm = api.train(frame, target="y", model="gbm", text_columns=["t"], threads=1)
    assert gbm.predict(frame.head(4)).shape == (4,)
