"""Shared fixtures: the bundled demo data and small real samples from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "data"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "adult.csv")


@pytest.fixture(scope="session")
def adult_small(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(3000).reset_index(drop=True)


@pytest.fixture(scope="session")
def banking() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "banking77.csv")


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} is not present (tests that need more than the bundled data read ../shared/data)"
        )
    return path
