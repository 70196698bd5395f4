"""Model families, found by name. Modules import lazily so `lathe --help` stays instant.

>>> get_family("gbm").name
'gbm'
"""

from __future__ import annotations

import importlib

from lathe.models._base import FAMILIES, FitData, ModelFamily

__all__ = ["get_family", "FAMILY_NAMES", "ModelFamily", "FitData"]

_MODULES = {
    "gbm": "lathe.models.gbm",
    "linear": "lathe.models.linear",
    "ensemble": "lathe.models.ensemble",
    "mlp": "lathe.models.mlp",
    "text": "lathe.models.text",
    "voting": "lathe.models.stacking",
    "stacking": "lathe.models.stacking",
}
# Wrappers that train adds (catch-all routing) and compressed artifacts (`lathe compress`) load
# through the same registry, but no one picks them with --model, so they are not in FAMILY_NAMES.
_LOAD_ONLY = {
    "catch_all": "lathe.models.catch_all",  # made by train when the labels have a catch-all
    "onnx-int8": "lathe.compression.int8",
    "torch-int8": "lathe.compression.int8",
}
FAMILY_NAMES = sorted(_MODULES)


def get_family(name: str) -> type[ModelFamily]:
    module = _MODULES.get(name) or _LOAD_ONLY.get(name)
    if module is not None:
        importlib.import_module(module)
    return FAMILIES.get(name)
