"""Hyperparameter tuning with Optuna: search spaces from the families, samplers and pruners by
name, studies shared through a storage URL so workers on several machines can join.

Names are imported on first use so that `lathe --help` does not pay for Optuna.

>>> from lathe.tuning import tune  # doctest: +SKIP
>>> tune("train.csv", "income", trials=50, storage="postgresql://db/test", workers=4)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OBJECTIVE_NAMES": "lathe.tuning.search",
    "TuneResult": "lathe.tuning.search",
    "tune": "lathe.tuning.search",
    "load_space_overrides": "lathe.tuning.space",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe.tuning' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
