"""Small real candidates for the business tests: gbm and linear on 2,000 Adult rows, a gbm
of another schema, and 1,000 held-out rows."""

from __future__ import annotations

import pandas as pd
import pytest

import lathe


@pytest.fixture(scope="session")
def candidates(tmp_path_factory, adult_small: pd.DataFrame):
    root = tmp_path_factory.mktemp("decide")
    train, hold = adult_small.iloc[:2000], adult_small.iloc[2000:]
    lathe.train(train, target="income", model="gbm", threads=1).save(root / "gbm")
    lathe.train(train, target="income", model="linear", threads=1).save(root / "lin")
    other = train.rename(columns={"age": "years"})
    lathe.train(other, target="income", model="gbm", threads=1).save(root / "other")
    hold.to_csv(root / "hold.csv", index=False)
    return root
