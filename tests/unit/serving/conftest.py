"""Fixtures for serving tests: two real small Adult models trained once per session, and a
helper that runs the real app (with its lifespan) for a test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lathe

ROOT = Path(__file__).resolve().parents[3]
ADULT = ROOT / "examples" / "data" / "adult.csv"
ADULT_HOLDOUT = ROOT / "examples" / "data" / "adult_holdout.csv"


@pytest.fixture(scope="session")
def adult_frame() -> pd.DataFrame:
    return pd.read_csv(ADULT, nrows=2000)


@pytest.fixture(scope="session")
def adult_model_dir(tmp_path_factory: pytest.TempPathFactory, adult_frame: pd.DataFrame) -> Path:
    model = lathe.train(adult_frame.head(1000), target="income", threads=1)
    return model.save(tmp_path_factory.mktemp("models") / "adult")


@pytest.fixture(scope="session")
def adult_model_dir_b(tmp_path_factory: pytest.TempPathFactory, adult_frame: pd.DataFrame) -> Path:
    """A second version (trained on other rows) for hot-reload tests."""
    model = lathe.train(adult_frame.tail(1000), target="income", threads=1)
    return model.save(tmp_path_factory.mktemp("models_b") / "adult")


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a JSON client sends them: plain ints/floats/strings, null for missing."""
    features = frame.drop(columns=["income"], errors="ignore")
    records = features.astype(object).where(features.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]


@pytest.fixture(scope="session")
def holdout_rows() -> list[dict[str, Any]]:
    return json_rows(pd.read_csv(ADULT_HOLDOUT, nrows=200))


@pytest.fixture()
def served_copy(tmp_path: Path, adult_model_dir: Path) -> Path:
    """A private copy of the model directory (tests may replace it)."""
    target = tmp_path / "served" / "adult"
    shutil.copytree(adult_model_dir, target)
    return target


@pytest.fixture()
def client_for(tmp_path: Path) -> Iterator[Any]:
    """client_for(models=[...], **settings) -> a started TestClient (closed after the test)."""
    from fastapi.testclient import TestClient

    from lathe.serving import ServeSettings, create_app

    clients: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("prediction_log", f"sqlite:///{tmp_path}/predictions.db")
        kwargs.setdefault("reload_interval_s", 0)
        client = TestClient(create_app(ServeSettings(**kwargs)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
