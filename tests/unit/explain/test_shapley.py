"""The sampling Shapley estimator: exact on additive models, additive always, any dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.explain.shapley import sampling_shapley


def test_additive_model_gets_its_exact_terms() -> None:
    rows = pd.DataFrame({"a": [1.0, -2.0], "b": [3.0, 0.5], "c": [0.0, 4.0]})
    background = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 1.0], "c": [2.0, 0.0]})
    weights = np.array([2.0, -1.0, 0.5])

    def f(X: pd.DataFrame) -> np.ndarray:
        return X.to_numpy() @ weights

    contrib, base = sampling_shapley(f, rows, background, n_permutations=64, seed=1)
    expected = (rows.to_numpy() - background.to_numpy().mean(axis=0)) * weights
    # each permutation draws one background row, so the estimate converges to the exact terms
    assert np.allclose(contrib, expected, atol=0.35)
    assert np.allclose(contrib.sum(axis=1) + base, f(rows))  # additivity is exact


def test_interaction_is_split_evenly_and_categoricals_work() -> None:
    rows = pd.DataFrame({"x": [1.0], "c": pd.Categorical(["on"], categories=["off", "on"])})
    background = pd.DataFrame({"x": [0.0], "c": pd.Categorical(["off"], categories=["off", "on"])})

    def f(X: pd.DataFrame) -> np.ndarray:  # only both together matter
        return ((X["x"] > 0.5) & (X["c"] == "on")).astype(float).to_numpy()

    contrib, base = sampling_shapley(f, rows, background, n_permutations=400, seed=0)
    assert contrib[0] == pytest.approx([0.5, 0.5], abs=0.08)
    assert base[0] == 0.0


def test_matrix_outputs_pick_a_column_per_row() -> None:
    rows = pd.DataFrame({"a": [1.0, 2.0]})
    background = pd.DataFrame({"a": [0.0]})

    def f(X: pd.DataFrame) -> np.ndarray:
        a = X["a"].to_numpy()
        return np.column_stack([a, 10 * a])

    contrib, _ = sampling_shapley(f, rows, background, n_permutations=4,
                                  output_index=np.array([0, 1]), batch_rows=3)
    assert contrib[:, 0].tolist() == [1.0, 20.0]


def test_needs_features_and_background() -> None:
    with pytest.raises(ValueError, match="background"):
        sampling_shapley(lambda X: np.zeros(len(X)), pd.DataFrame({"a": [1.0]}),
                         pd.DataFrame({"a": []}))
