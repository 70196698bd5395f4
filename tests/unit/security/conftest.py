"""Fixtures for security tests: real keys, and one real small model trained per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import lathe
from lathe.security.keys import new_signing_key

ROOT = Path(__file__).resolve().parents[3]
ADULT = ROOT / "examples" / "data" / "adult.csv"


@pytest.fixture(scope="session")
def rows() -> pd.DataFrame:
    return pd.read_csv(ADULT, nrows=600)


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    new_signing_key(d / "ci.key")
    new_signing_key(d / "other.key")
    return d


@pytest.fixture(scope="session")
def plain_model(tmp_path_factory: pytest.TempPathFactory, rows: pd.DataFrame) -> Path:
    """An unsigned linear model (trained once; copy it before changing it)."""
    out = tmp_path_factory.mktemp("plain") / "adult"
    lathe.train(rows, target="income", model="linear", threads=1, out=out)
    return out


@pytest.fixture(scope="session")
def signed_model(tmp_path_factory: pytest.TempPathFactory, rows: pd.DataFrame,
                 keydir: Path) -> Path:
    """A gbm model (prunable: compress makes children of it), signed by ci.key through
    `train(sign=...)`."""
    out = tmp_path_factory.mktemp("signed") / "adult"
    lathe.train(rows, target="income", model="gbm", preset="fast", threads=1, out=out,
                    sign=keydir / "ci.key")
    return out
