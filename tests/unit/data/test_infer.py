from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.data.infer import detect_language, encode_labels, infer_schema, infer_task
from lathe.errors import DataError, UsageError


def test_adult_schema(adult_small: pd.DataFrame) -> None:
    schema = infer_schema(adult_small, "income")
    kinds = {c.name: c.kind for c in schema.columns}
    assert schema.task == "binary" and schema.classes == ["<=50K", ">50K"]
    assert kinds["age"] == "numeric" and kinds["workclass"] == "categorical"
    assert "income" not in kinds


def test_banking_text_is_text(banking: pd.DataFrame) -> None:
    schema = infer_schema(banking, "category")
    assert schema.task == "multiclass" and schema.n_classes == 77
    assert schema.column("text").kind == "text" and schema.column("text").language == "en"


def test_roles_of_synthetic_columns() -> None:
    n = 60
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "row_id": range(n),
            "uuid": [f"u{i:05d}" for i in range(n)],
            "flag": ["yes", "no"] * (n // 2),
            "same": ["k"] * n,
            "when": pd.date_range("2024-01-01", periods=n).astype(str),
            "num_as_text": [str(i * 1.5) for i in range(n)],
            "color": rng.choice(["red", "green"], n),
            "y": rng.normal(size=n),
        }
    )
    schema = infer_schema(frame, "y")
    kinds = {c.name: c.kind for c in schema.columns}
    assert schema.task == "regression"
    assert kinds == {
        "flag": "boolean",
        "when": "datetime",
        "num_as_text": "numeric",
        "color": "categorical",
    }
    assert set(schema.dropped) == {"row_id", "uuid", "same"}
    assert any("dropped column 'same'" in note for note in schema.notes)


def test_task_inference() -> None:
    assert infer_task(pd.Series([1, 2, 3] * 30)) == "multiclass"
    assert infer_task(pd.Series([0.5, 1.25, 3.0] * 30)) == "regression"
    assert infer_task(pd.Series([True, False] * 3)) == "binary"
    assert infer_task(pd.Series(range(200))) == "regression"
    with pytest.raises(DataError, match="only one class"):
        infer_task(pd.Series(["a"] * 10, name="y"))
    with pytest.raises(DataError, match=r"only one class \(1\)"):  # not np.int64(1)
        infer_task(pd.Series([1] * 10, name="y"))
    with pytest.raises(DataError, match="--task multiclass"):
        infer_task(pd.Series(["a", "b", "c"]), "binary")


def test_unknown_target_suggests_closest(adult_small: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="did you mean 'income'"):
        infer_schema(adult_small, "incme")


def test_all_empty_column_is_an_error() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "empty": [np.nan] * 4, "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match=r"'empty' is empty on every row.*--drop empty"):
        infer_schema(frame, "y")
    assert infer_schema(frame, "y", drop_columns=["empty"]).dropped == {
        "empty": "dropped on request"
    }


def test_encode_labels_rejects_unknown_class(adult_small: pd.DataFrame) -> None:
    schema = infer_schema(adult_small, "income")
    assert encode_labels(pd.Series(["<=50K", ">50K"]), schema).tolist() == [0, 1]
    with pytest.raises(DataError, match="row 2 has label 'maybe'"):
        encode_labels(pd.Series(["<=50K", "maybe"]), schema)


def test_numeric_class_order_and_language() -> None:
    schema = infer_schema(
        pd.DataFrame({"x": [i % 7 for i in range(100)], "y": [10, 2, 3, 2] * 25}),
        "y",
        task="multiclass",
    )
    assert schema.classes == ["2", "3", "10"]
    assert detect_language(["这家酒店很干净", "服务很好"]) == "zh"
    assert detect_language(["the room was clean"]) == "en"
