"""The prediction API against a real Adult model: answers, validation, limits, listing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.errors import UsageError
from lathe.serving import ServeSettings, create_app
from lathe.serving.predictor import load_predictor

from .conftest import ADULT_HOLDOUT, json_rows


def test_predict_answers_label_probabilities_version_and_request_id(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    response = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:3]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "adult" and len(body["version"]) == 12
    assert body["request_id"] == response.headers["x-request-id"]
    assert len(body["predictions"]) == 3
    for prediction in body["predictions"]:
        probabilities = prediction["probabilities"]
        assert set(probabilities) == {"<=50K", ">50K"}
        assert abs(sum(probabilities.values()) - 1) < 1e-9
        assert prediction["label"] == max(probabilities, key=probabilities.get)


def test_client_request_id_is_kept_beside_the_servers_own(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    ok = client.post(
        "/v1/models/adult/predict",
        json={"rows": holdout_rows[:1]},
        headers={"X-Request-ID": "abc-1"},
    )
    body = ok.json()
    # the log's key is always the server's (a client may repeat its id); the client's id is
    # echoed in the header for its tracing and kept in the body and the log
    assert body["client_request_id"] == "abc-1" and body["request_id"] != "abc-1"
    assert ok.headers["x-request-id"] == "abc-1"
    again = client.post(
        "/v1/models/adult/predict",
        json={"rows": holdout_rows[:1]},
        headers={"X-Request-ID": "abc-1"},
    ).json()
    assert again["request_id"] != body["request_id"]
    odd = client.post(
        "/v1/models/adult/predict",
        json={"rows": holdout_rows[:1]},
        headers={"X-Request-ID": "a b<"},
    )
    assert "client_request_id" not in odd.json()
    assert odd.headers["x-request-id"] == odd.json()["request_id"]


def test_native_fast_path_matches_the_model_exactly(adult_model_dir, holdout_rows):
    predictor = load_predictor("adult", "v", adult_model_dir)
    assert predictor.native is not None
    fast = predictor.predict_raw(predictor.prepare(holdout_rows))
    reference = lathe.load(adult_model_dir).predict_proba(pd.read_csv(ADULT_HOLDOUT, nrows=200))
    np.testing.assert_allclose(fast, reference.to_numpy(), rtol=0, atol=1e-12)


def test_string_numbers_nulls_and_unseen_categories_are_accepted_with_warnings(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    row = dict(holdout_rows[0], age="41", workclass="Never-seen-before", fnlwgt=None)
    response = client.post("/v1/models/adult/predict", json={"rows": [row, holdout_rows[1]]})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [
        "field 'workclass': 1 row(s) have a category not seen in training (treated as "
        "missing): 'Never-seen-before'"
    ]
    extra = dict(holdout_rows[0], agee=41, income=">50K")  # a typo and the target itself
    warned = client.post("/v1/models/adult/predict/batch", json={"rows": [extra]}).json()
    assert warned["warnings"] == ["ignored 1 field(s) the model does not use: 'agee'"]
    clean = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:5]}).json()
    assert "warnings" not in clean


def test_wrong_type_is_422_naming_row_and_field(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    rows = [holdout_rows[0], dict(holdout_rows[1], age="forty")]
    response = client.post("/v1/models/adult/predict", json={"rows": rows})
    assert response.status_code == 422
    body = response.json()
    assert body["details"] == {"row": 2, "field": "age"}
    assert "row 2" in body["message"] and "'age'" in body["message"] and "forty" in body["message"]
    assert "Traceback" not in response.text


def test_missing_field_and_non_object_rows_are_422(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    row = {k: v for k, v in holdout_rows[0].items() if k != "education"}
    missing = client.post("/v1/models/adult/predict", json={"rows": [row]})
    assert missing.status_code == 422
    assert missing.json()["details"] == {"row": 1, "field": "education"}
    not_object = client.post("/v1/models/adult/predict", json={"rows": [[1, 2]]})
    assert not_object.status_code == 422 and "row 1" in not_object.json()["message"]
    no_rows = client.post("/v1/models/adult/predict", json={"data": []})
    assert no_rows.status_code == 422 and "rows" in no_rows.json()["message"]
    bad_json = client.post(
        "/v1/models/adult/predict",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "UsageError"


def test_unknown_model_is_404_with_a_suggestion(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    response = client.post("/v1/models/adlt/predict", json={"rows": holdout_rows[:1]})
    assert response.status_code == 404
    assert "did you mean 'adult'" in response.json()["message"]


def test_body_and_row_limits_are_413(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)], max_body_bytes=4096, max_rows_per_request=5)
    big = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:100]})
    assert big.status_code == 413 and big.json()["error"] == "PayloadTooLarge"
    many = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:6]})
    assert many.status_code == 413 and "limit here is 5" in many.json()["message"]
    # the batch endpoint has its own (larger) row limit
    batch = client.post("/v1/models/adult/predict/batch", json={"rows": holdout_rows[:6]})
    assert batch.status_code == 200 and len(batch.json()["predictions"]) == 6


def test_slow_prediction_is_504(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)], timeout_s=1e-4, max_body_bytes=1 << 24)
    response = client.post("/v1/models/adult/predict/batch", json={"rows": holdout_rows * 50})
    assert response.status_code == 504
    assert response.json()["error"] == "GatewayTimeout"


def test_models_schema_health_and_metrics(client_for, adult_model_dir, holdout_rows):
    client = client_for(models=[str(adult_model_dir)])
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    listed = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in listed] == ["adult"]
    assert listed[0]["task"] == "binary" and listed[0]["native_fast_path"] is True
    schema = client.get("/v1/models/adult/schema").json()
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["age"]["kind"] == "numeric"
    assert "Private" in fields["workclass"]["categories"]
    client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:2]})
    client.post("/v1/models/adult/predict", json={"rows": [{"age": 1}]})
    text = client.get("/metrics").text
    version = listed[0]["version"]
    assert f'lathe_requests_total{{model="adult",status="200",version="{version}"}} 1.0' in text
    assert f'lathe_errors_total{{model="adult",status="422",version="{version}"}} 1.0' in text
    assert f'lathe_rows_predicted_total{{model="adult",version="{version}"}} 2.0' in text
    assert "lathe_request_latency_seconds_bucket" in text
    openapi = client.get("/openapi.json").json()
    assert "/v1/models/{name}/predict" in openapi["paths"]


def test_two_models_with_one_name_are_refused(tmp_path, adult_model_dir):
    other = tmp_path / "elsewhere" / "adult"
    shutil.copytree(adult_model_dir, other)
    with pytest.raises(UsageError, match="two models would be served as 'adult'"):
        create_app(ServeSettings(models=[str(adult_model_dir), str(other)]))


def test_regression_answers_a_value(client_for, tmp_path, adult_frame):
    frame = adult_frame.head(500).drop(columns=["income"])
    model = lathe.train(frame, target="hours_per_week", task="regression", threads=1)
    path = model.save(tmp_path / "hours")
    client = client_for(models=[str(path)])
    rows = [{k: v for k, v in r.items() if k != "hours_per_week"} for r in json_rows(frame.head(3))]
    body = client.post("/v1/models/hours/predict", json={"rows": rows}).json()
    values = [p["value"] for p in body["predictions"]]
    expected = model.predict(frame.head(3))
    np.testing.assert_allclose(values, expected, rtol=1e-9)
