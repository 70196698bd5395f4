"""`POST /v1/models/{name}/explain` and `Model.explain` on a real Adult model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.serving.routes.explain import MAX_ROWS


def test_explain_endpoint_adds_up_to_the_prediction(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    rows = holdout_rows[:3]
    response = client.post("/v1/models/adult/explain", json={"rows": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "adult" and body["request_id"] == response.headers["x-request-id"]
    assert body["method"] == "tree_shap" and body["units"] == "log-odds"
    predicted = client.post("/v1/models/adult/predict", json={"rows": rows}).json()["predictions"]
    for explanation, prediction in zip(body["explanations"], predicted, strict=True):
        assert explanation["explained_class"] == ">50K"  # binary: the positive class
        log_odds = explanation["base_value"] + sum(explanation["contributions"].values())
        p = prediction["probabilities"][">50K"]
        assert log_odds == pytest.approx(np.log(p / (1 - p)), abs=1e-6)
    # the API gives the same numbers
    model = lathe.load(adult_model_dir)
    local = model.explain(pd.DataFrame(rows))
    served = pd.DataFrame([e["contributions"] for e in body["explanations"]])
    np.testing.assert_allclose(served[local.columns].to_numpy(), local.to_numpy(), atol=1e-9)


def test_explain_validates_rows_like_predict(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    broken = [dict(holdout_rows[0])]
    del broken[0]["age"]
    response = client.post("/v1/models/adult/explain", json={"rows": broken})
    assert response.status_code == 422 and "age" in response.text and "row 1" in response.text
    too_many = client.post("/v1/models/adult/explain",
                           json={"rows": holdout_rows[:1] * (MAX_ROWS + 1)})
    assert too_many.status_code == 413
    assert client.post("/v1/models/nope/explain", json={"rows": holdout_rows[:1]}).status_code == 404
    assert client.post("/v1/models/adult/explain", content=b"{not json").status_code in (400, 422)
