"""The prediction log (written off the request path) and feedback by request id."""

from __future__ import annotations

from lathe.serving.predlog import PredictionLog, PredictionRecord


def test_every_prediction_is_logged_and_feedback_attaches(
    client_for, tmp_path, adult_model_dir, holdout_rows
):
    url = f"sqlite:///{tmp_path}/log/predictions.db"
    client = client_for(models=[str(adult_model_dir)], prediction_log=url)
    body = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:2]}).json()
    request_id = body["request_id"]
    log = client.app.state.prediction_log
    record = log.read(request_id)
    assert record["model"] == "adult" and record["version"] == body["version"]
    assert record["inputs"] == {"rows": holdout_rows[:2]}  # the request body as sent
    assert record["outputs"] == body["predictions"]
    assert record["latency_ms"] > 0 and record["outcome"] is None

    stored = client.post("/v1/feedback", json={"request_id": request_id, "outcome": ">50K"})
    assert stored.status_code == 200 and stored.json()["stored"] is True
    assert log.read(request_id)["outcome"] == ">50K"

    unknown = client.post("/v1/feedback", json={"request_id": "nope", "outcome": 1})
    assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
    invalid = client.post("/v1/feedback", json={"outcome": 1})
    assert invalid.status_code == 422 and "request_id" in invalid.json()["message"]


def test_feedback_without_a_log_says_so(client_for, adult_model_dir):
    client = client_for(models=[str(adult_model_dir)], prediction_log=None)
    response = client.post("/v1/feedback", json={"request_id": "x", "outcome": 1})
    assert response.status_code == 400 and "no prediction log" in response.json()["message"]


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    dropped = []
    log = PredictionLog(
        f"sqlite:///{tmp_path}/p.db", max_queue=1, on_drop=lambda: dropped.append(1)
    )
    accepted = sum(
        log.append(PredictionRecord(f"r{i}", "m", "v", {}, {}, 1.0)) for i in range(2000)
    )
    log.flush()
    assert accepted + len(dropped) == 2000
    assert accepted >= 1 and dropped, "a full queue must drop, never block the request"
    assert log.read("r0") is not None
    log.close()
