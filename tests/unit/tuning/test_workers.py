"""Scale-out: worker processes share one study through the storage URL — SQLite here, and the
real PostgreSQL at 127.0.0.1:5432 when it answers — with no lost or duplicated trials; a
killed study resumes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pandas as pd
import pytest

from lathe.tuning import tune
from lathe.tuning._study import close_storage, open_storage

FAST = {"n_estimators": 30, "early_stopping_rounds": 10}
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def sample(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(1200).reset_index(drop=True)


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _assert_exact(result: object, n: int) -> None:
    table = result.trials  # type: ignore[attr-defined]
    assert sorted(table["number"]) == list(range(n))  # none lost, none repeated
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"}
    # the family-defaults start trial runs once, in this process; the rest in two workers
    ordered = table.sort_values("number")
    assert ordered["user_attrs_pid"].iloc[0] == os.getpid()
    assert ordered["user_attrs_pid"].iloc[1:].nunique() == 2  # really two processes
    assert os.getpid() not in set(ordered["user_attrs_pid"].iloc[1:])


def test_two_workers_share_a_sqlite_study_exactly(sample: pd.DataFrame, tmp_path: Path) -> None:
    result = tune(sample, "income", trials=7, workers=2, storage=f"sqlite:///{tmp_path}/s.db",
                  threads=1, space_overrides=FAST, refit=False)
    _assert_exact(result, 7)


@pytest.mark.postgres
def test_two_workers_share_a_postgres_study_exactly(sample: pd.DataFrame) -> None:
    if not _postgres_answers():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 does not answer")
    name = f"lathe-test-{uuid.uuid4().hex[:8]}"
    try:
        result = tune(sample, "income", trials=6, workers=2, storage=POSTGRES_URL,
                      study_name=name, threads=1, space_overrides=FAST)
        _assert_exact(result, 6)
        assert result.storage == POSTGRES_URL and result.model is not None
    finally:
        storage = open_storage(POSTGRES_URL)
        optuna.delete_study(study_name=name, storage=storage)
        close_storage(storage)


RUN_FOREVER = """
from lathe.tuning import tune
tune({path!r}, "income", trials=1000, storage={url!r}, study_name="killed", threads=1,
     space_overrides={fast!r}, refit=False)
"""


def test_a_killed_study_resumes_to_exactly_the_requested_trials(sample: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/k.db"
    data = tmp_path / "sample.csv"
    sample.to_csv(data, index=False)
    code = RUN_FOREVER.format(path=str(data), url=url, fast=FAST)
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180  # generous: a loaded machine (CI) is slow to start
    done = 0
    try:
        while done < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            storage = open_storage(url)
            try:
                study = optuna.load_study(study_name="killed", storage=storage)
                done = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
            except KeyError:  # the study is not created yet
                continue
            finally:
                close_storage(storage)
    finally:
        process.kill()
        process.wait()
    assert done >= 2
    result = tune(data, "income", trials=done + 2, storage=url, study_name="killed",
                  threads=1, space_overrides=FAST, refit=False)
    finished = result.trials[result.trials["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(finished) == done + 2
    assert result.trials["number"].is_unique
    # the trial the kill interrupted stays visible (RUNNING until its heartbeat goes stale)
    assert set(result.trials["state"]) <= {"COMPLETE", "PRUNED", "RUNNING", "FAIL"}


def test_sqlite_storage_writes_ahead_with_normal_sync(tmp_path: Path) -> None:
    from sqlalchemy import text

    from lathe.tuning._study import close_storage, open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    try:
        with storage.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        close_storage(storage)


def test_an_in_memory_sqlite_study_works() -> None:
    from lathe.tuning._study import close_storage, open_storage

    storage = open_storage("sqlite:///:memory:")  # Optuna's in-memory storage
    try:
        study = optuna.create_study(storage=storage)
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        assert len(study.trials) == 2
    finally:
        close_storage(storage)


def test_workers_refuse_an_in_memory_study() -> None:
    from lathe.errors import UsageError
    from lathe.tuning import tune

    frame = pd.DataFrame({"x": range(40), "y": ["a", "b"] * 20})
    with pytest.raises(UsageError, match="share"):
        tune(frame, "y", trials=2, workers=2, storage="sqlite:///:memory:")
