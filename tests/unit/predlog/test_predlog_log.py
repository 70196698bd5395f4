"""The prediction log package: writing without losses, migration, outcomes, reading back."""

from __future__ import annotations

import json
import sqlite3
import time

import pandas as pd
import pytest

from lathe.errors import Conflict, DataError, NotFound, UsageError
from lathe.predlog import (
    ROW_COLUMNS,
    PredictionLog,
    PredictionRecord,
    check_outcome,
    inputs_frame,
    open_log,
    read_all,
    read_predictions,
)


def _record(i: int, **kw):
    return PredictionRecord(
        f"r{i:05d}", kw.pop("model", "m"), "v1", {"rows": [{"x": i}]}, [{"label": "a"}], 1.0,
        n_rows=1, **kw,
    )  # fmt: skip


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path, caplog):
    dropped = []
    log = PredictionLog(f"sqlite:///{tmp_path}/p.db", max_queue=1, on_drop=dropped.append)
    accepted = sum(log.append(_record(i)) for i in range(2000))
    log.close()
    assert accepted + sum(dropped) == 2000 and log.dropped == sum(dropped)
    assert accepted >= 1 and dropped, "a full queue must drop, never block the request"
    assert open_log(f"sqlite:///{tmp_path}/p.db").count() == accepted
    said = [r for r in caplog.records if "queue" in r.getMessage()]
    assert said and sum(r.dropped for r in said) == sum(dropped)  # logged, with its count


def test_one_bad_record_never_sinks_its_batch(tmp_path, caplog):
    url = f"sqlite:///{tmp_path}/p.db"
    dropped = []
    log = PredictionLog(url, on_drop=dropped.append)
    records = [_record(i) for i in range(300)]
    records[150] = _record(3)  # a duplicate key inside the batch
    for record in records:
        log.append(record)
    log.close()
    assert open_log(url).count() == 299 and dropped == [1]
    errors = [r for r in caplog.records if "not written" in r.getMessage()]
    assert len(errors) == 1 and errors[0].dropped == 1 and "1 of" in errors[0].getMessage()


def test_a_version_1_log_is_migrated_in_place_and_keeps_its_outcomes(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE predictions (request_id VARCHAR(64) PRIMARY KEY, time FLOAT NOT NULL,"
            " model VARCHAR(200) NOT NULL, version VARCHAR(200) NOT NULL, inputs TEXT NOT NULL,"
            " outputs TEXT NOT NULL, latency_ms FLOAT NOT NULL, outcome TEXT,"
            " outcome_time FLOAT)"
        )
        conn.execute(
            "INSERT INTO predictions VALUES ('old1', 100.0, 'm', 'v0', '{\"rows\": [{\"x\": 1}]}',"
            ' \'[{"label": "a"}]\', 2.0, \'"b"\', 101.0)'
        )
    url = f"sqlite:///{path}"
    log = PredictionLog(url)
    log.append(_record(1, client_id="c", experiment="exp", variant="B"))
    log.close()
    frame = read_all(url)
    assert frame["request_id"].tolist() == ["old1", "r00001"]
    assert frame["outcome"].tolist()[0] == "b" and frame["n_rows"].tolist() == [1, 1]
    assert frame["experiment"].tolist()[1] == "exp" and frame["variant"].tolist()[1] == "B"
    assert open_log(url).count() == 2  # opening again is a no-op


def test_reading_filters_by_model_and_time_in_bounded_chunks(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    log = PredictionLog(url)
    start = float(int(time.time()))
    for i in range(25):
        record = _record(i, model="a" if i % 5 else "b")
        record.time = start + i
        log.append(record)
    log.close()
    chunks = list(read_predictions(url, model="a", chunksize=7))
    assert [len(c) for c in chunks] == [7, 7, 6]
    frame = pd.concat(chunks, ignore_index=True)
    assert list(frame.columns) == ROW_COLUMNS and frame["request_id"].is_unique
    assert frame["time"].is_monotonic_increasing and str(frame["time"].dt.tz) == "UTC"
    window = read_all(url, since=start + 10, until=pd.Timestamp(start + 20, unit="s"))
    assert len(window) == 10 and inputs_frame(window)["x"].tolist() == list(range(10, 20))
    per_request = read_all(url, per_row=False, model="b")
    assert per_request["inputs"].tolist()[0] == [{"x": 0}]
    assert read_all(url, model="nobody").empty
    with pytest.raises(NotFound, match="no prediction log"):
        read_all(f"sqlite:///{tmp_path}/typo.db")
    with pytest.raises(UsageError, match="not a time"):
        read_all(url, since="yesterday")


def test_outcome_rules(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    log = PredictionLog(url)
    log.append(PredictionRecord("r1", "m", "v", {"rows": [{}, {}]}, [{"value": 1.0}] * 2, 1.0,
                                client_id="c", n_rows=2, row_ids=["a", "b"]))  # fmt: skip
    log.append(PredictionRecord("r2", "m", "v", {"rows": [{}]}, [{"value": 1.0}], 1.0,
                                client_id="c", n_rows=1))  # fmt: skip
    check = lambda model, value: check_outcome(value, task="regression", classes=None)  # noqa: E731
    with pytest.raises(Conflict, match="2 requests"):
        log.attach_outcome("c", 1.5, check=check)
    with pytest.raises(DataError, match="not a number"):
        log.attach_outcome("r1", "1.5", row=0, check=check)
    assert log.attach_outcome("r1", 2, row_id="b", check=check)["rows"] == 1
    log.close()
    stored = open_log(url).read("r1")["outcomes"]
    assert stored[1]["outcome"] == 2 and 0 not in stored
    frame = read_all(url)
    assert frame["outcome_updates"].tolist() == [0, 1, 0]
    assert json.loads(json.dumps(frame["row_id"].tolist()[:2])) == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "task", "classes", "ok"),
    [
        ("yes", "binary", ["no", "yes"], True),
        (1, "binary", ["no", "yes"], False),
        (1.0, "multiclass", [0, 1, 2], True),
        (True, "binary", [0, 1], False),
        (True, "binary", [False, True], True),
        (float("nan"), "regression", [], False),
        (float("inf"), "regression", [], False),
        (True, "regression", [], False),
        (-3, "regression", [], True),
        ("x" * 2000, None, None, False),
        ([1], None, None, False),
    ],
)
def test_check_outcome(value, task, classes, ok):
    if ok:
        check_outcome(value, task=task, classes=classes)
    else:
        with pytest.raises(DataError):
            check_outcome(value, task=task, classes=classes)


PG_SERVER = __import__("os").environ.get(
    "LATHE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_down() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=2):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        return f"no PostgreSQL server answers at {PG_SERVER}: {type(exc).__name__}: {exc}"


@pytest.mark.postgres
def test_the_log_works_the_same_on_postgresql():
    import uuid

    import sqlalchemy as sa

    down = _postgres_down()
    if down:
        pytest.skip(down)
    schema = f"lathe_log_{uuid.uuid4().hex[:10]}"
    url = f"{PG_SERVER}?schema={schema}"
    try:
        log = PredictionLog(url)
        records = [_record(i, client_id="same") for i in range(50)]
        records[20] = _record(3)  # a duplicate key: only that record is dropped
        for record in records:
            log.append(record)
        log.flush()
        with pytest.raises(Conflict, match="49 requests"):
            log.attach_outcome("same", "a")
        assert log.attach_outcome("r00007", "b")["rows"] == 1
        log.close()
        assert log.dropped == 1
        frame = read_all(url)
        assert len(frame) == 49 and frame.set_index("request_id").loc["r00007", "outcome"] == "b"
    finally:
        engine = sa.create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
