from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lathe.data.infer import infer_schema
from lathe.data.schema import Schema
from lathe.errors import SchemaMismatch


@pytest.fixture()
def schema(adult_small: pd.DataFrame) -> Schema:
    return infer_schema(adult_small, "income")


def test_conform_types_and_order(schema: Schema, adult_small: pd.DataFrame) -> None:
    shuffled = adult_small[list(reversed(adult_small.columns))].head(50)
    X, report = schema.conform(shuffled)
    assert list(X.columns) == schema.feature_names
    assert X["age"].dtype == np.float64
    assert isinstance(X["workclass"].dtype, pd.CategoricalDtype)
    assert report.extra_columns == ["income"] or report.extra_columns == []


def test_missing_column_is_an_error(schema: Schema, adult_small: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch, match=r"missing column\(s\) \['age'\]"):
        schema.conform(adult_small.drop(columns=["age"]), source="new.csv")


def test_wrong_type_names_column_and_row(schema: Schema, adult_small: pd.DataFrame) -> None:
    bad = adult_small.head(5).copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[3, "age"] = "forty"
    with pytest.raises(SchemaMismatch, match=r"'age' must be numeric, but row 4 holds 'forty'"):
        schema.conform(bad)


def test_unseen_categories_extra_columns_and_nans_are_reported(
    schema: Schema, adult_small: pd.DataFrame
) -> None:
    frame = adult_small.head(5).copy()
    frame.loc[0, "workclass"] = "Astronaut"
    frame.loc[1, "hours_per_week"] = np.nan
    frame["customer_id"] = range(5)
    X, report = schema.conform(frame)
    assert report.unseen_categories == {"workclass": 1}
    assert "customer_id" in report.extra_columns
    assert report.missing_values["hours_per_week"] == 1
    assert pd.isna(X.loc[0, "workclass"])
    assert any("not seen in training" in w for w in report.warnings())


def test_round_trip_through_dict(schema: Schema) -> None:
    again = Schema.from_dict(schema.to_dict())
    assert again == schema


def test_numbers_as_json_strings_and_bool_words() -> None:
    frame = pd.DataFrame({"n": [1, 2, 3, 4], "b": ["yes", "no", "yes", "no"], "y": [0, 1, 0, 1]})
    schema = infer_schema(frame, "y")
    X, _ = schema.conform(pd.DataFrame({"n": ["5", None], "b": ["no", None]}))
    assert X["n"].tolist()[0] == 5.0 and np.isnan(X["n"].tolist()[1])
    assert X["b"].tolist()[0] == 0.0
    with pytest.raises(SchemaMismatch, match="must be true/false"):
        schema.conform(pd.DataFrame({"n": [1], "b": ["maybe"]}))
