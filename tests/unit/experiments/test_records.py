"""Experiments in the registry's store: start, list, stop; bad input changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lathe.errors import Conflict, GateFailed, NotFound, UsageError
from lathe.experiments import records
from lathe.registry import open_registry
from lathe.registry.testing import fake_artifact


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'lathe.db'}"
    with open_registry(url) as reg:
        for seed, auc in ((1, 0.80), (2, 0.82), (3, 0.70)):
            reg.register(fake_artifact(tmp_path / f"a{seed}", seed=seed, auc=auc), name="churn")
        reg.promote("churn", 1)
        reg.register(fake_artifact(tmp_path / "b", seed=9), name="other")
    return url


def _start(store, name="checkout", **kw):
    args = {"control": "churn@champion", "treatment": "churn:2", "split": "50/50",
            "unit": "user_id", "store": store, **kw}
    return records.start(name, **args)


def test_start_list_and_stop_promote_moves_champion_and_audits(store):
    exp = _start(store, metric="converted", guardrails=["p99_ms<50"])
    assert (exp.control, exp.treatment, exp.status, exp.split) == (
        "churn:1", "churn:2", "running", [50.0, 50.0])
    assert exp.guardrails == [{"name": "p99_ms", "op": "<", "limit": 50.0}]
    assert [e.name for e in records.list_experiments(store)] == ["checkout"]
    done = records.stop("checkout", promote=True, store=store)
    assert done.status == "promoted" and done.result["gate"]["passed"] is True
    with open_registry(store) as reg:
        assert reg.resolve("churn@champion").version == 2
        events = [e for e in reg.history("churn") if e.action == "experiment"]
    assert len(events) == 1 and events[0].after["status"] == "promoted"
    assert events[0].after["experiment"] == "checkout"


def test_stop_rollback_keeps_champion(store):
    _start(store)
    done = records.stop("checkout", promote=False, reason="no lift", store=store)
    assert done.status == "rolled back"
    with open_registry(store) as reg:
        assert reg.resolve("churn@champion").version == 1
    with pytest.raises(Conflict, match="already stopped"):
        records.stop("checkout", promote=True, store=store)


def test_failed_gate_changes_nothing(store):
    _start(store, treatment="churn:3")  # auc 0.70 < champion 0.80
    with pytest.raises(GateFailed):
        records.stop("checkout", promote=True, store=store)
    assert records.get("checkout", store).status == "running"
    with open_registry(store) as reg:
        assert reg.resolve("churn@champion").version == 1


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"split": "50/60"}, UsageError, "summing to 100"),
    ({"split": "abc"}, UsageError, "not two numbers"),
    ({"guardrails": ["p99<50"]}, UsageError, "METRIC<LIMIT"),
    ({"treatment": "churn:7"}, NotFound, "churn"),
    ({"treatment": "other:1"}, UsageError, "different models"),
    ({"treatment": "churn:1"}, UsageError, "both churn:1"),
    ({"canary": "1,5,25", "step_minutes": None}, UsageError, "step-minutes"),
    ({"canary": "5,1"}, UsageError, "rise"),
    ({"shadow": True, "canary": "1,5", "step_minutes": 1}, UsageError, "not both"),
])
def test_bad_start_is_refused_and_nothing_is_written(store, kwargs, error, words):
    with pytest.raises(error, match=words):
        _start(store, **kwargs)
    assert records.list_experiments(store) == []


def test_two_running_experiments_on_one_model_and_unit_conflict(store):
    _start(store)
    with pytest.raises(Conflict, match="already runs on churn by unit 'user_id'"):
        _start(store, name="second")
    with pytest.raises(Conflict, match="already exists"):
        _start(store, unit="session_id")
    _start(store, name="by-session", unit="session_id")  # another unit is independent
    assert len(records.list_experiments(store)) == 2


def test_unknown_name(store):
    _start(store)
    with pytest.raises(NotFound, match="did you mean 'checkout'"):
        records.stop("checkot", promote=True, store=store)


def test_canary_schedule_and_automatic_rollback(store):
    exp = _start(store, canary="1,5,25,50", step_minutes=10)
    started = datetime.fromisoformat(exp.started_at)
    assert exp.mode == "canary"
    assert exp.treatment_share(started + timedelta(minutes=1)) == 1
    assert exp.treatment_share(started + timedelta(minutes=21)) == 25
    assert exp.treatment_share(started + timedelta(hours=5)) == 50
    with open_registry(store) as reg:
        assert records.mark_rolled_back("checkout", "error_rate 0.5 >= 0.01", registry=reg)
        assert not records.mark_rolled_back("checkout", "again", registry=reg)
        event = [e for e in reg.history("churn") if e.action == "experiment"][-1]
    assert event.after["automatic"] is True
    assert json.loads(json.dumps(records.get("checkout", store).to_dict()))["status"] == \
        "rolled back"
    assert datetime.now(UTC) > started
