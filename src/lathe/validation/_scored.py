"""Labelled rows scored once: what every check of a suite reads.

`score_rows(model, data)` reads DATA, keeps the labelled rows, conforms them to the model's
schema and predicts once; slices, fairness, robustness and the overfitting check all work
from the same `Scored` so that a suite predicts on DATA only once (perturbations predict
again on their perturbed copies).

>>> import numpy as np
>>> s = Scored(frame=None, X=None, y=np.array([0, 1, 1]), raw=np.array([[.9, .1], [.2, .8],
...            [.7, .3]]), task="binary", classes=["no", "yes"], positive=1, pred=np.array(
...            [0, 1, 0]), source="demo")
>>> s.correct.tolist(), s.positive_label
([True, True, False], 'yes')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.errors import DataError

if TYPE_CHECKING:
    from lathe.model import DataLike, Model

__all__ = ["Scored", "score_rows", "scored_from", "predicted_index"]


@dataclass
class Scored:
    """Labelled rows of DATA (`frame`, original columns), their conformed features `X`,
    encoded labels `y`, the family's raw output `raw` and the predicted class indices
    `pred` (the model's decision rule, saved threshold included); regression: `pred` is
    the predicted number."""

    frame: Any
    X: Any
    y: np.ndarray
    raw: np.ndarray
    task: str
    classes: list[Any] | None
    positive: int | None
    pred: np.ndarray
    source: str

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def correct(self) -> np.ndarray:
        """Per row: was the prediction right (classification only)."""
        return np.asarray(self.pred == self.y)

    @property
    def positive_label(self) -> str | None:
        if self.positive is None or not self.classes:
            return None
        return str(self.classes[self.positive])


def predicted_index(model: Model, raw: np.ndarray) -> np.ndarray:
    """Class indices the model predicts from `raw` (its `labels` rule, threshold included);
    for regression the numbers themselves."""
    if not model.schema.is_classification:
        return np.asarray(raw, dtype=float).ravel()
    labels = model.labels(raw)
    index = {str(c): i for i, c in enumerate(model.classes or [])}
    return np.array([index[str(v)] for v in labels], dtype=int)


def scored_from(model: Model, frame: Any, X: Any, y: np.ndarray, raw: np.ndarray,
                source: str = "data") -> Scored:
    """A `Scored` from rows already predicted (`Model.evaluate`'s `sections` hook)."""
    return Scored(frame=frame.reset_index(drop=True), X=X.reset_index(drop=True),
                  y=np.asarray(y), raw=np.asarray(raw), task=model.task,
                  classes=model.classes, positive=model.schema.positive_index,
                  pred=predicted_index(model, np.asarray(raw)), source=source)


def score_rows(model: Model, data: DataLike, encoding: str | None = None) -> Scored:
    """Read, keep labelled rows, conform and predict once."""
    from lathe.data.infer import encode_labels
    from lathe.model import read_data, source_name

    frame = read_data(data, encoding)
    source = source_name(data)
    target = model.schema.target
    if target is None or target not in frame.columns:
        raise DataError(f"{source} has no label column {target!r} to validate against",
                        hint=f"add the {target!r} column (validation compares predictions "
                             "with labels)", column=target)
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    if labelled.empty:
        raise DataError(f"{source}: every row's label {target!r} is empty", column=target)
    X, _ = model.schema.conform(labelled, source=source)
    y = encode_labels(labelled[target], model.schema, source=source)
    return scored_from(model, labelled, X, y, model.family.predict_raw(X), source)

