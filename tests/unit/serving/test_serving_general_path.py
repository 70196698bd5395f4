"""The general path (DataFrame + Schema.conform + family.predict_raw), used for every model
the native LightGBM encoder does not cover: same answers, same 422s, batched conform."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.errors import SchemaMismatch
from lathe.serving.batching import MicroBatcher
from lathe.serving.predictor import Predictor

from .conftest import ROOT


@pytest.fixture(scope="module")
def general(adult_model_dir):
    return Predictor("adult", "v", lathe.load(adult_model_dir), native=False)


def test_general_and_native_paths_agree(general, adult_model_dir, holdout_rows):
    native = Predictor("adult", "v", lathe.load(adult_model_dir))
    assert general.native is None and native.native is not None
    np.testing.assert_allclose(
        general.predict_raw(general.prepare(holdout_rows)),
        native.predict_raw(native.prepare(holdout_rows)),
        rtol=0,
        atol=1e-12,
    )


def test_one_bad_request_in_a_batch_fails_alone(general, holdout_rows):
    good = [general.prepare(holdout_rows[i : i + 1]) for i in range(3)]
    bad = general.prepare([holdout_rows[3], dict(holdout_rows[4], age="old")])
    results = general.predict_many([good[0], bad, good[1], good[2]])
    assert isinstance(results[1], SchemaMismatch)
    assert results[1].details == {"column": "age", "row": 2}  # row within its own request
    for i, result in zip((0, 1, 2), (results[0], results[2], results[3]), strict=True):
        np.testing.assert_allclose(result, general.predict_raw(good[i]))

    async def through_batcher():
        batcher = MicroBatcher(general.predict_many, ThreadPoolExecutor(1), max_in_flight=1)
        outcomes = await asyncio.gather(
            *(batcher.submit(p, p.n) for p in (good[0], bad, good[1])), return_exceptions=True
        )
        await batcher.close()
        return outcomes

    outcomes = asyncio.run(through_batcher())
    assert isinstance(outcomes[1], SchemaMismatch)
    assert isinstance(outcomes[0], np.ndarray) and isinstance(outcomes[2], np.ndarray)


def test_text_model_is_served_through_the_general_path(client_for, tmp_path):
    frame = pd.read_csv(ROOT / "examples" / "data" / "banking77.csv", nrows=600)
    path = lathe.train(frame, target="category", threads=1).save(tmp_path / "intents")
    client = client_for(models=[str(path)])
    schema = client.get("/v1/models/intents/schema").json()
    assert schema["text_fields"] == ["text"] and schema["native_fast_path"] is False
    body = client.post(
        "/v1/models/intents/predict", json={"rows": [{"text": "I lost my card, what now?"}]}
    ).json()
    probabilities = body["predictions"][0]["probabilities"]
    assert len(probabilities) == frame["category"].nunique()
    assert body["predictions"][0]["label"] == max(probabilities, key=probabilities.get)
    missing = client.post("/v1/models/intents/predict", json={"rows": [{"txt": "hi"}]})
    assert missing.status_code == 422 and missing.json()["details"]["field"] == "text"
