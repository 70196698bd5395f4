"""Experiments in the server: sticky hashed split, variant in every response, missing unit,
shadow, and a guardrail breach rolling the experiment back by itself."""

from __future__ import annotations

import time

import pytest

from lathe.experiments import records
from lathe.registry import open_registry
from lathe.serving.experiments import assign, bucket, guardrail_breach


def test_assignment_is_sticky_uniform_and_salted():
    units = [f"u{i}" for i in range(20_000)]
    first = [assign(u, "exp-a", 50) for u in units]
    assert first == [assign(u, "exp-a", 50) for u in units]
    share = first.count("treatment") / len(units)
    assert abs(share - 0.5) < 0.015
    other = [assign(u, "exp-b", 50) for u in units]
    agree = sum(a == b for a, b in zip(first, other, strict=True)) / len(units)
    assert abs(agree - 0.5) < 0.015  # independent experiments
    # a canary's growing share only moves units from control to treatment
    assert all(assign(u, "c", 5) != "treatment" or assign(u, "c", 25) == "treatment"
               for u in units[:2000])
    assert 0 <= min(bucket(u, "x") for u in units) and max(bucket(u, "x") for u in units) < 100


def test_guardrail_breach_reads_the_recent_window():
    obs = [(100.0, 5.0, True)] * 50 + [(200.0, 90.0, True)] * 50
    guard = [{"name": "p99_ms", "op": "<", "limit": 50.0}]
    assert guardrail_breach(guard, obs, since=150.0).startswith("p99_ms = 90")
    assert guardrail_breach(guard, obs[:50], since=0.0) is None
    assert guardrail_breach(guard, obs[:10], since=0.0, min_requests=20) is None


@pytest.fixture
def registry_url(tmp_path, adult_model_dir, adult_model_dir_b):
    url = f"sqlite:///{tmp_path / 'lathe.db'}"
    with open_registry(url) as reg:
        reg.register(adult_model_dir, name="adult")
        reg.register(adult_model_dir_b, name="adult")
        reg.promote("adult", 1)
    return url


def _serve(client_for, url, **kw):
    return client_for(models=["adult@champion"], store=url, experiments=True,
                      experiments_interval_s=0, **kw)


def test_split_routes_sticky_and_labels_every_response(client_for, registry_url, holdout_rows):
    records.start("ab", control="adult@champion", treatment="adult:2", split="50/50",
                  unit="user_id", store=registry_url)
    client = _serve(client_for, registry_url)
    seen = {}
    for i in range(40):
        unit = f"user-{i % 10}"
        body = {"rows": holdout_rows[:1]}
        r = client.post("/v1/models/adult/predict", json=body, headers={"X-Unit-Id": unit})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["experiment"] == "ab" and out["variant"] in ("control", "treatment")
        assert out["version"] == ("adult:1" if out["variant"] == "control" else "adult:2")
        assert seen.setdefault(unit, out["variant"]) == out["variant"]
        assert out["variant"] == assign(unit, "ab", 50)
    # the unit may also come from the body field named by --unit
    row = dict(holdout_rows[0], user_id="user-3")
    r = client.post("/v1/models/adult/predict", json={"rows": [row]})
    assert r.json()["variant"] == seen["user-3"]
    # no unit id: a clear 422
    r = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]})
    assert r.status_code == 422 and "X-Unit-Id" in r.text
    metrics = client.get("/metrics").text
    assert 'lathe_experiment_requests_total{experiment="ab"' in metrics
    # a restarted server assigns the same way
    again = _serve(client_for, registry_url)
    for unit, variant in seen.items():
        r = again.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]},
                       headers={"X-Unit-Id": unit})
        assert r.json()["variant"] == variant


def test_missing_unit_can_go_to_control(client_for, registry_url, holdout_rows):
    records.start("ab", control="adult@champion", treatment="adult:2", unit="user_id",
                  store=registry_url)
    client = _serve(client_for, registry_url, experiments_missing_unit="control")
    r = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]})
    assert r.status_code == 200 and r.json()["variant"] == "control"


def test_shadow_answers_with_control(client_for, registry_url, holdout_rows, tmp_path):
    from lathe.predlog import open_log, read_all

    records.start("sh", control="adult@champion", treatment="adult:2", unit="user_id",
                  shadow=True, store=registry_url)
    log = f"sqlite:///{tmp_path}/shadow-log.db"
    client = _serve(client_for, registry_url, prediction_log=log)
    answered = []
    for i in range(5):
        r = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:2]},
                        headers={"X-Unit-Id": f"u{i}"})
        assert r.json()["variant"] == "control" and r.json()["version"] == "adult:1"
        answered.append(r.json()["request_id"])
    deadline = time.time() + 10
    while time.time() < deadline:
        text = client.get("/metrics").text
        if text.count('status="ok",variant="shadow"') and \
                'experiment="sh",model="adult",status="ok",variant="shadow"} 5.0' in text:
            break
        time.sleep(0.05)
    assert 'experiment="sh",model="adult",status="ok",variant="shadow"' in text
    outcome = client.post("/v1/feedback", json={"request_id": answered[0],
                                                "outcomes": [">50K", "<=50K"]})
    assert outcome.status_code == 200, outcome.text
    client.app.state.prediction_log.close()  # flush
    # the predictions table keeps one row per 200 response; the shadow's scores sit apart,
    # keyed by the answered request, with its outcomes
    store = open_log(log, create=False)
    try:
        assert store.count() == 5 and store.count(variant="shadow") == 0
    finally:
        store.close()
    shadow = read_all(log, shadow=True)
    assert len(shadow) == 10 and set(shadow["variant"]) == {"shadow"}
    assert set(shadow["version"]) == {"adult:2"}
    assert set(shadow["request_id"]) == {f"{rid}:shadow" for rid in answered}
    first = shadow[shadow["request_id"] == f"{answered[0]}:shadow"]
    assert list(first["outcome"]) == [">50K", "<=50K"]


def test_guardrail_breach_rolls_back_by_itself(client_for, registry_url, holdout_rows):
    import asyncio

    records.start("can", control="adult@champion", treatment="adult:2", unit="user_id",
                  canary="50,100", step_minutes=60, guardrails=["p99_ms<0.0001"],
                  store=registry_url)
    client = _serve(client_for, registry_url)
    router = client.app.state.experiments
    router.min_requests = 5
    variants = set()
    for i in range(40):
        r = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]},
                        headers={"X-Unit-Id": f"u{i}"})
        variants.add(r.json()["variant"])
    assert variants == {"control", "treatment"}
    rolled = client.portal.call(router.evaluate) if hasattr(client, "portal") else \
        asyncio.run(router.evaluate())
    assert rolled == ["can"]
    assert records.get("can", registry_url).status == "rolled back"
    r = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]},
                    headers={"X-Unit-Id": "u1"})
    assert r.json()["version"] == "adult:1"


def test_analyze_a_served_experiment_from_log_and_feedback(client_for, registry_url,
                                                           holdout_rows, tmp_path):
    from lathe.experiments.served import analyze_experiment
    from lathe.predlog import read_all

    records.start("fb", control="adult@champion", treatment="adult:2", unit="user_id",
                  store=registry_url)
    log = f"sqlite:///{tmp_path}/predictions.db"
    client = _serve(client_for, registry_url, prediction_log=log)
    truth = {}
    for i in range(60):
        row = dict(holdout_rows[i % len(holdout_rows)], user_id=f"u{i}")
        r = client.post("/v1/models/adult/predict", json={"rows": [row]})
        out = r.json()
        label = out["predictions"][0]["label"]
        truth[out["request_id"]] = label if i % 3 else ("<=50K" if label == ">50K" else ">50K")
        assert client.post("/v1/feedback", json={"request_id": out["request_id"],
                                                 "outcome": truth[out["request_id"]]}).status_code == 200
    client.app.state.prediction_log.close()  # flush
    logged = read_all(log, model="adult", experiment="fb")
    assert set(logged["variant"]) <= {"control", "treatment"} and len(logged) == 60
    result = analyze_experiment("fb", prediction_log=log, store=registry_url)
    block = result["metrics"]["correct"]
    assert block["kind"] == "proportion"
    total = sum(v["n"] for v in block["variants"].values())
    assert total == 60 and sum(result["srm"]["counts"].values()) == 60
    assert result["decision"]["sentence"]
    from lathe import api

    stopped = api.experiment_stop("fb", promote=False, store=registry_url, prediction_log=log)
    assert stopped["result"]["decision"]["verdict"] == result["decision"]["verdict"]
    with open_registry(registry_url) as reg:
        event = [e for e in reg.history("adult") if e.action == "experiment"][-1]
    assert event.after["decision"]["sentence"] == result["decision"]["sentence"]


def test_page_lists_running_experiments(client_for, registry_url):
    records.start("pg", control="adult@champion", treatment="adult:2", unit="user_id",
                  split="90/10", store=registry_url)
    client = _serve(client_for, registry_url)
    listed = client.get("/v1/experiments").json()["experiments"]
    assert listed[0]["experiment"] == "pg" and listed[0]["treatment_share"] == 10.0
    page = client.get("/").text + client.get("/static/app.js").text
    assert "/v1/experiments" in page and "X-Unit-Id" in page
