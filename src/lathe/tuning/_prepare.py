"""Turn a table into the split, conformed data a tuning study needs — the same steps as
`lathe.training.run` (read, infer schema, drop unlabelled rows, split, conform, encode), so a
tuned model and a trained one see identical train/valid/test parts for the same seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lathe.data.infer import declare_positive_class, infer_schema
from lathe.data.load import read_table
from lathe.data.schema import Schema
from lathe.data.split import content_hash, split_frame
from lathe.errors import UsageError
from lathe.models import FitData
from lathe.training.run import Splits, labelled_rows

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    schema: Schema
    fit_data: FitData
    X_test: pd.DataFrame
    y_test: np.ndarray
    source: str
    dataset_hash: str
    rows: dict[str, int]

    def combined(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Train + valid, the rows cross-validation folds over."""
        d = self.fit_data
        if d.X_valid is None or d.y_valid is None or not len(d.X_valid):
            return d.X_train, d.y_train
        return pd.concat([d.X_train, d.X_valid]), np.concatenate([d.y_train, d.y_valid])


def prepare(
    data: str | os.PathLike[str] | pd.DataFrame,
    target: str,
    *,
    seed: int = 0,
    valid_size: float = 0.1,
    test_size: float = 0.1,
    threads: int | None = None,
    task: str | None = None,
    encoding: str | None = None,
    positive_class: str | None = None,
) -> Prepared:
    if not target:
        raise UsageError("no target column given", hint="pass target=COLUMN")
    source = str(data) if not isinstance(data, pd.DataFrame) else "DataFrame"
    frame = data.copy() if isinstance(data, pd.DataFrame) else read_table(data, encoding=encoding)
    frame.columns = [str(c) for c in frame.columns]
    schema = infer_schema(frame, target, task=task, source=source)  # type: ignore[arg-type]
    declare_positive_class(schema, positive_class)
    frame = labelled_rows(frame, schema, source, minimum=20, purpose="tune")
    parts = split_frame(frame, target, valid_size=valid_size, test_size=test_size, seed=seed,
                        stratify=schema.is_classification)
    splits = Splits(schema, source, *parts)
    X_train, y_train = splits.xy(splits.train)
    X_valid, y_valid = splits.xy(splits.valid)
    X_test, y_test = (splits.xy(splits.test) if len(splits.test)
                      else (X_valid.iloc[:0], y_valid[:0]))
    fit_data = FitData(schema, X_train, y_train, X_valid, y_valid, seed=seed, threads=threads)
    rows = {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test)}
    return Prepared(schema, fit_data, X_test, y_test, source, content_hash(frame), rows)
