"""One small Adult model, trained once for the CLI integration modules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main
from tests.integration.cli_support import EXAMPLES


@pytest.fixture(scope="package")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="package")
def sample(workdir: Path) -> Path:
    frame = pd.read_csv(EXAMPLES / "adult.csv").head(3000)
    path = workdir / "adult.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="package")
def artifact(workdir: Path, sample: Path) -> Path:
    out = workdir / "model"
    assert main(["train", str(sample), "--target", "income", "--out", str(out), "--json"]) == 0
    return out
