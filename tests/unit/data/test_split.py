from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.data.split import content_hash, fold_splits, row_keys, split_frame


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


@pytest.mark.parametrize("stratify", [True, False])
def test_folds_keep_identical_rows_together_and_cover_every_row(stratify: bool) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.integers(0, 40, 600), "c": rng.choice(list("ab"), 600)})
    y = rng.integers(0, 3, 600)
    splits = fold_splits(X, y, 5, seed=0, stratify=stratify)
    assert len(splits) == 5
    held = np.concatenate([b for _, b in splits])
    assert sorted(held.tolist()) == list(range(600))  # each row held out exactly once
    keys = row_keys(X.assign(y=y))
    for fit, hold in splits:
        assert not set(keys[fit]) & set(keys[hold])  # no copy of a held-out row is fitted
    if stratify:  # class shares in each held-out fold stay close to the whole
        for _, hold in splits:
            assert np.abs(np.bincount(y[hold], minlength=3) / len(hold)
                          - np.bincount(y) / len(y)).max() < 0.06
    assert [b.tolist() for _, b in fold_splits(X, y, 5, 0, stratify=stratify)] == \
        [b.tolist() for _, b in splits]  # deterministic in the seed


def test_same_features_with_different_labels_may_part() -> None:
    X = pd.DataFrame({"x": [1.0] * 10})
    y = np.array([0, 1] * 5)
    splits = fold_splits(X, y, 2, seed=0, stratify=True)
    assert len(splits) == 2 and all(len(b) == 5 for _, b in splits)


def test_folds_when_rows_repeat_a_lot_or_a_class_is_rare() -> None:
    # every row the same: dealt one by one (there is nothing to memorise)
    same = fold_splits(pd.DataFrame({"x": [1.0] * 7}), np.zeros(7), 5, seed=0, stratify=True)
    assert len(same) == 5 and sorted(np.concatenate([b for _, b in same]).tolist()) == list(range(7))
    # three distinct rows: three folds, each a whole group
    X = pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]})
    three = fold_splits(X, np.array([0, 0, 1, 1, 0, 0]), 5, seed=0, stratify=True)
    assert sorted(sorted(b.tolist()) for _, b in three) == [[0, 1], [2, 3], [4, 5]]
    # a class with fewer distinct rows than folds: unstratified folds of equal size
    y = np.array([0] * 48 + [1] * 2)
    rare = fold_splits(pd.DataFrame({"x": np.arange(50.0)}), y, 5, seed=0, stratify=True)
    assert [len(b) for _, b in rare] == [10] * 5
