"""Every answered request in the prediction log, and feedback by request id (validated, with
history, honest about ids several requests shared)."""

from __future__ import annotations

import sqlalchemy as sa


def _predict(client, rows, client_id=None):
    headers = {"X-Request-ID": client_id} if client_id else {}
    response = client.post("/v1/models/adult/predict", json={"rows": rows}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_prediction_is_logged_and_feedback_attaches(
    client_for, tmp_path, adult_model_dir, holdout_rows
):
    url = f"sqlite:///{tmp_path}/log/predictions.db"
    client = client_for(models=[str(adult_model_dir)], prediction_log=url)
    body = _predict(client, holdout_rows[:1])
    request_id = body["request_id"]
    log = client.app.state.prediction_log
    record = log.read(request_id)
    assert record["model"] == "adult" and record["version"] == body["version"]
    assert record["inputs"] == {"rows": holdout_rows[:1]}  # the request body as sent
    assert record["outputs"] == body["predictions"] and record["n_rows"] == 1
    assert record["latency_ms"] > 0 and record["outcome"] is None

    stored = client.post("/v1/feedback", json={"request_id": request_id, "outcome": ">50K"})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "request_id": request_id, "stored": True, "request_ids": [request_id], "rows": 1,
        "updated": 0,
    }  # fmt: skip
    assert log.read(request_id)["outcome"] == ">50K"

    unknown = client.post("/v1/feedback", json={"request_id": "nope", "outcome": ">50K"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
    invalid = client.post("/v1/feedback", json={"outcome": ">50K"})
    assert invalid.status_code == 422 and "request_id" in invalid.json()["message"]


def test_outcomes_are_validated_against_the_models_classes(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    request_id = _predict(client, holdout_rows[:1])["request_id"]
    for bad, words in (
        (None, "null"),
        (1, "not a class"),
        ("yes", "not a class"),
        ({"label": ">50K"}, "one label"),
        ("x" * 900_000, "characters long"),
    ):
        response = client.post("/v1/feedback", json={"request_id": request_id, "outcome": bad})
        assert response.status_code == 422, (bad, response.text)
        assert words in response.json()["message"]
    assert client.app.state.prediction_log.read(request_id)["outcome"] is None


def test_a_second_outcome_keeps_the_first_with_both_times(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    request_id = _predict(client, holdout_rows[:1])["request_id"]
    first = client.post("/v1/feedback", json={"request_id": request_id, "outcome": "<=50K"})
    second = client.post("/v1/feedback", json={"request_id": request_id, "outcome": ">50K"})
    assert first.json()["updated"] == 0 and second.json()["updated"] == 1
    history = client.app.state.prediction_log.read(request_id)["outcomes"][0]
    assert history["first_outcome"] == "<=50K" and history["outcome"] == ">50K"
    assert history["updates"] == 2 and history["first_time"] <= history["outcome_time"]


def test_rows_of_one_request_take_outcomes_by_index_by_id_or_as_a_list(
    client_for, adult_model_dir, holdout_rows
):
    client = client_for(models=[str(adult_model_dir)])
    rows = [{**row, "row_id": f"id-{i}"} for i, row in enumerate(holdout_rows[:3])]
    body = _predict(client, rows)
    assert "warnings" not in body, "the row-id field is not an unknown field"
    request_id = body["request_id"]
    post = lambda **kw: client.post("/v1/feedback", json={"request_id": request_id, **kw})  # noqa: E731
    ambiguous = post(outcome=">50K")
    assert ambiguous.status_code == 400 and "3 rows" in ambiguous.json()["message"]
    assert post(outcome=">50K", row=2).status_code == 200
    assert post(outcome="<=50K", row_id="id-0").status_code == 200
    assert post(outcome="<=50K", row=3).status_code == 400
    assert post(outcome="<=50K", row_id="id-9").status_code == 404
    assert post(outcomes=["<=50K", ">50K"]).status_code == 400  # wrong length
    assert post(outcomes=["<=50K", ">50K", 7]).status_code == 422  # one bad value: none stored
    outcomes = client.app.state.prediction_log.read(request_id)["outcomes"]
    assert {i: o["outcome"] for i, o in outcomes.items()} == {0: "<=50K", 2: ">50K"}
    assert post(outcomes=[">50K", ">50K", "<=50K"]).json()["rows"] == 3


def test_a_repeated_client_id_never_loses_records_and_feedback_says_what_it_did(
    client_for, tmp_path, adult_model_dir, holdout_rows
):
    url = f"sqlite:///{tmp_path}/shared.db"
    client = client_for(models=[str(adult_model_dir)], prediction_log=url)
    answers = [_predict(client, holdout_rows[i : i + 1], client_id="same") for i in range(5)]
    answers += [_predict(client, holdout_rows[i : i + 1]) for i in range(5, 8)]
    log = client.app.state.prediction_log
    log.flush()
    with log.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT request_id, client_id FROM predictions")).all()
    assert len(rows) == 8, "one row per 200 response"
    assert sorted(r.request_id for r in rows) == sorted(a["request_id"] for a in answers)
    assert sum(r.client_id == "same" for r in rows) == 5

    shared = client.post("/v1/feedback", json={"request_id": "same", "outcome": ">50K"})
    assert shared.status_code == 409
    assert (
        "5 requests" in shared.json()["message"]
        and "nothing was stored" in shared.json()["message"]
    )
    every = client.post(
        "/v1/feedback", json={"request_id": "same", "outcome": ">50K", "all_requests": True}
    ).json()
    assert every["rows"] == 5 and len(every["request_ids"]) == 5
    # the server's own id of one of them still names exactly one request
    one = client.post(
        "/v1/feedback", json={"request_id": answers[0]["request_id"], "outcome": "<=50K"}
    ).json()
    assert one["request_ids"] == [answers[0]["request_id"]] and one["updated"] == 1


def test_feedback_without_a_log_says_so(client_for, adult_model_dir):
    client = client_for(models=[str(adult_model_dir)], prediction_log=None)
    response = client.post("/v1/feedback", json={"request_id": "x", "outcome": 1})
    assert response.status_code == 400 and "no prediction log" in response.json()["message"]


def test_dropped_counter_is_on_metrics_at_zero_from_the_start(client_for, adult_model_dir):
    client = client_for(models=[str(adult_model_dir)])
    assert "\nlathe_prediction_log_dropped_total 0.0\n" in client.get("/metrics").text
