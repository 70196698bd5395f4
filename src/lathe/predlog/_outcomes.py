"""Checking a true outcome before it is stored (pure: no database here).

An outcome must be what the model predicts: one of its classes, with the classes' own type
(``"yes"`` for a yes/no model, not ``1``), or for regression a finite number. Anything else —
``null``, a nested object, a huge string — is refused by name, so a typo in a feedback client
cannot silently poison the accuracy that monitoring reports.

>>> check_outcome("yes", task="binary", classes=["no", "yes"])
'yes'
>>> check_outcome(1, task="binary", classes=[0, 1])
1
>>> check_outcome(2.5, task="regression", classes=[])
2.5
>>> check_outcome(1, task="binary", classes=["no", "yes"])
Traceback (most recent call last):
lathe.errors.DataError: outcome 1 is not a class of this model; expected one of 'no', 'yes'. Fix: send the true label exactly as the model's classes spell it (GET /v1/models/NAME lists them)
"""

from __future__ import annotations

import math
from typing import Any

from lathe.errors import DataError

__all__ = ["check_outcome", "MAX_OUTCOME_CHARS"]

MAX_OUTCOME_CHARS = 1000  # a label or a number; nothing longer is an outcome


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}... ({len(text)} characters)"


def check_outcome(value: Any, *, task: str | None, classes: list[Any] | None) -> Any:
    """The outcome to store, or a DataError naming what was expected.

    ``task`` None means the model is not known here (it is no longer served): only the shape
    is checked (a string, a number or a boolean, of bounded size).
    """
    if value is None:
        raise DataError(
            "outcome is null",
            hint="send the true label (or, for regression, the true number)",
        )
    if isinstance(value, (dict, list)):
        raise DataError(
            f"outcome must be one label or number, got {type(value).__name__} {_shown(value)}",
            hint="send one outcome per row; for several rows use 'outcomes' (a list)",
        )
    if isinstance(value, str) and len(value) > MAX_OUTCOME_CHARS:
        raise DataError(
            f"outcome is {len(value)} characters long; the limit is {MAX_OUTCOME_CHARS}",
            hint="send the true label, not a document",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"outcome must be finite, got {value}", hint="send a finite number")
    if task is None:
        return value
    if task == "regression":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(
                f"outcome {_shown(value)} is not a number; this is a regression model",
                hint="send the true value as a JSON number",
            )
        return value
    for label in classes or []:
        if _same_label(value, label):
            return label
    listed = ", ".join(repr(c) for c in (classes or [])[:20])
    raise DataError(
        f"outcome {_shown(value)} is not a class of this model; expected one of {listed}",
        hint="send the true label exactly as the model's classes spell it "
        "(GET /v1/models/NAME lists them)",
    )


def _same_label(value: Any, label: Any) -> bool:
    """Equal and of the same kind: text matches text, numbers numbers, booleans booleans."""
    if isinstance(label, bool) or isinstance(value, bool):
        return isinstance(label, bool) and isinstance(value, bool) and value == label
    if isinstance(label, str) or isinstance(value, str):
        return isinstance(label, str) and isinstance(value, str) and value == label
    if isinstance(label, (int, float)) and isinstance(value, (int, float)):
        return float(value) == float(label)
    return bool(value == label)
