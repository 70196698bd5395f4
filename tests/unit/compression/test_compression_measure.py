"""Pure parts of compression: the comparison table, agreement, soft targets, row expansion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.compression import METHODS, get_compressor
from lathe.compression.distill import expand_soft_rows, soft_targets
from lathe.compression.measure import agreement, comparison_table, format_table
from lathe.errors import ConfigError


def test_comparison_table_has_parent_child_delta_and_ratio_for_shared_numbers() -> None:
    table = comparison_table(
        {"family": "gbm", "size_bytes": 1000, "accuracy": 0.9, "_raw": np.zeros(2), "x": None},
        {"family": "gbm", "size_bytes": 250, "accuracy": 0.88},
    )
    assert set(table) == {"size_bytes", "accuracy"}
    assert table["size_bytes"] == {"parent": 1000, "child": 250, "delta": -750.0, "ratio": 0.25}
    assert table["accuracy"]["delta"] == pytest.approx(-0.02)
    text = format_table(table)
    assert "size_bytes" in text.splitlines()[1] and "0.250" in text


def test_agreement_counts_rows_with_the_same_predicted_class() -> None:
    parent = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    child = np.array([[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.1, 0.9]])
    assert agreement(parent, child) == 0.75
    assert agreement(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 1.0


def test_soft_targets_blend_labels_with_softened_teacher() -> None:
    proba = np.array([[0.8, 0.15, 0.05], [0.1, 0.1, 0.8]])
    sharp = soft_targets(proba, np.array([0, 1]), temperature=1.0, alpha=0.0)
    np.testing.assert_allclose(sharp, proba, atol=1e-9)
    soft = soft_targets(proba, np.array([0, 1]), temperature=4.0, alpha=0.0)
    assert soft[0, 0] < 0.8 and soft[0, 2] > 0.05  # temperature flattens
    mixed = soft_targets(proba, np.array([0, 1]), temperature=2.0, alpha=0.5)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    assert mixed[1, 1] > 0.5  # the true label keeps at least alpha


def test_expand_soft_rows_weights_reproduce_the_targets() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    targets = np.array([[0.7, 0.29, 0.01], [0.0, 0.0, 1.0]])
    rows, labels, weights = expand_soft_rows(X, targets, min_share=0.02)
    assert rows["a"].tolist() == [1.0, 1.0, 2.0]
    assert labels.tolist() == [0, 1, 2]
    np.testing.assert_allclose(weights, [0.7 / 0.99, 0.29 / 0.99, 1.0])


def test_methods_are_registered_by_name_and_unknown_ones_list_the_valid() -> None:
    assert METHODS == ["distill", "int8", "prune"]
    assert get_compressor("prune").method == "prune"
    with pytest.raises(ConfigError, match="did you mean 'prune'"):
        get_compressor("prun")
