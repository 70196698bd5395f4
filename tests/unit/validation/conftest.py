"""Small real models for the validation tests: gbm on the bundled Adult sample, linear on
the bundled Banking77 sample (both train in seconds on one thread)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import lathe.api as api

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"


@pytest.fixture(scope="session")
def adult_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Model, Path, Path]:
    """(model saved as an artifact, its directory, a held-out CSV)."""
    frame = pd.read_csv(EXAMPLES / "adult.csv", nrows=4000)
    model = api.train(frame, target="income", threads=1, params={"n_estimators": 60})
    where = tmp_path_factory.mktemp("adult") / "model"
    model.save(where)
    return model, where, EXAMPLES / "adult_holdout.csv"


@pytest.fixture(scope="session")
def banking_model() -> tuple[api.Model, pd.DataFrame]:
    frame = pd.read_csv(EXAMPLES / "banking77.csv").groupby("category").head(8)
    model = api.train(frame, target="category", model="linear", threads=1)
    return model, pd.read_csv(EXAMPLES / "banking77_holdout.csv")
