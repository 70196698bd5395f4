"""The linear family on text: NB-weighted features for binary labels, Chinese without flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from lathe import api
from lathe.models._log_count_ratio import LogCountRatio

CHNSENTICORP = Path(__file__).resolve().parents[4] / "shared" / "data" / "chnsenticorp_htl" / "train.csv"


def test_log_count_ratio_passes_multiclass_features_through() -> None:
    X = csr_matrix(np.eye(3))
    ratio = LogCountRatio().fit(X, np.array([0, 1, 2]))
    assert (ratio.transform(X) != X).nnz == 0


@pytest.mark.skipif(not CHNSENTICORP.exists(), reason=f"{CHNSENTICORP} is not present")
def test_chinese_reviews_train_with_char_ngrams_and_nb_weights() -> None:
    frame = pd.read_csv(CHNSENTICORP).dropna()
    frame = frame.sample(2500, random_state=0)
    model = api.train(frame, target="label", threads=1)
    assert model.family.name == "linear"  # auto: MiniLM does not read Chinese
    assert model.schema.column("review").language == "zh"
    features = model.family.pipeline.named_steps["features"]
    steps = features.named_transformers_["text_review"].named_steps
    vectorizer = steps["textvectorizer"].vectorizer_
    assert vectorizer.analyzer == "char" and vectorizer.ngram_range == (1, 3)
    ratio = steps["logcountratio"].ratio_
    assert ratio.min() < -1 and ratio.max() > 1  # words lean clearly one way or the other
    test = model.manifest["metrics"]["test"]
    assert test["accuracy"] > 0.85
    assert [row["class"] for row in test["per_class"]] == ["0", "1"]  # per-class metrics
    assert all(row["f1"] > 0.7 for row in test["per_class"])


def test_a_text_column_of_bare_punctuation_still_trains() -> None:
    # no word at all: the word n-grams' vocabulary is empty, so characters stand in
    frame = pd.DataFrame({"t": ["!!!", "??", "...", "!?"] * 10, "y": ["a", "b"] * 20})
    model = api.train(frame, target="y", model="linear", text_columns=["t"], threads=1)
    assert model.predict_proba(frame.head(4)).shape == (4, 2)
    gbm = api.train(frame, target="y", model="gbm", text_columns=["t"], threads=1)
    assert gbm.predict(frame.head(4)).shape == (4,)
