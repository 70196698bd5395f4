"""Gauges pushed to a real Pushgateway, replaced on the next push; a gateway that does not
answer is an outcome in the run's report, not an exception."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lathe.monitoring.prometheus import PUSH_JOB, gauges_text, push_gauges
from tests.pushgateway import _free_port, pushgateway, scrape

DRIFT = {"dataset_drift": True, "share_drifted": 0.75,
         "columns": {"x": {"drifted": True, "test": "ks", "statistic": 0.001,
                           "threshold": 0.05}}}


def _samples(text: str, name: str) -> dict[str, float]:
    return {s.labels.get("model", ""): s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == name and s.labels.get("job") == PUSH_JOB}


def test_push_lands_under_the_job_and_model_and_replaces_the_last_run() -> None:
    with pushgateway() as url:
        text = gauges_text(DRIFT, None, model="churn/eu@champion", breached={"r": True}, now=5)
        outcome = push_gauges(url, text, model="churn/eu@champion")
        assert outcome["ok"], outcome
        assert _samples(scrape(url), "lathe_monitor_drift_share") == {"churn/eu@champion": 0.75}
        later = gauges_text({**DRIFT, "share_drifted": 0.25}, None, model="churn/eu@champion",
                            breached={"r": False}, now=6)
        assert push_gauges(url, later, model="churn/eu@champion")["ok"]
        page = scrape(url)
        assert _samples(page, "lathe_monitor_drift_share") == {"churn/eu@champion": 0.25}
        assert _samples(page, "lathe_monitor_rule_breached") == {"churn/eu@champion": 0.0}
        bad = push_gauges(url, "not prometheus text {\n", model="churn")
        assert not bad["ok"] and bad["status"] == 400


def test_a_gateway_that_does_not_answer_is_reported() -> None:
    outcome = push_gauges(f"http://127.0.0.1:{_free_port()}", "x 1\n", model="m", timeout=2)
    assert outcome["ok"] is False and outcome["error"]
