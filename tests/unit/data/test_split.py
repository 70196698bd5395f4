from __future__ import annotations

import numpy as np
import pandas as pd

from lathe.data.split import content_hash, row_keys, split_frame


def test_split_is_deterministic_stratified_and_disjoint(adult_small: pd.DataFrame) -> None:
    a = split_frame(adult_small, "income", valid_size=0.1, test_size=0.2, seed=3)
    b = split_frame(adult_small, "income", valid_size=0.1, test_size=0.2, seed=3)
    for x, y in zip(a, b, strict=True):
        assert x.index.equals(y.index)
    train, valid, test = a
    assert len(train) + len(valid) + len(test) == len(adult_small)
    assert not set(train.index) & set(test.index) and not set(valid.index) & set(test.index)
    overall = (adult_small["income"] == ">50K").mean()
    for part in a:
        assert abs((part["income"] == ">50K").mean() - overall) < 0.02
    assert abs(len(test) / len(adult_small) - 0.2) < 0.02


def test_duplicates_stay_in_one_part() -> None:
    frame = pd.DataFrame({"x": [1, 1, 1, 1] + list(range(100)), "y": [0, 0, 0, 0] + [0, 1] * 50})
    train, valid, test = split_frame(frame, "y", valid_size=0.2, test_size=0.2, seed=0)
    holders = [part for part in (train, valid, test) if ((part.x == 1) & (part.y == 0)).any()]
    assert len(holders) == 1


def test_content_hash_tracks_values() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert content_hash(frame) == content_hash(frame.copy())
    changed = frame.copy()
    changed.loc[1, "b"] = "z"
    assert content_hash(changed) != content_hash(frame)
    assert len(np.unique(row_keys(frame))) == 2
