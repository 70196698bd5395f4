"""Model families, found by name. Modules import lazily so `lathe --help` stays instant.

>>> get_family("gbm").name
'gbm'
"""

from __future__ import annotations

from lathe.models._base import FAMILIES, FitData, ModelFamily
from lathe.models._threads import prefer_passive_openmp

# Every torch, LightGBM or scikit-learn import in lathe comes after this package's: OpenMP
# reads its wait policy once, when the first of them loads it (see models._threads)
prefer_passive_openmp()

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
    "onnx-int8": "lathe.models.int8",  # made by `lathe compress --method int8`
    "torch-int8": "lathe.models.int8",
}
for _name, _module in {**_MODULES, **_LOAD_ONLY}.items():
    FAMILIES.lazy(_name, _module)  # imported (and registered) on first use
del _name, _module
FAMILY_NAMES = sorted(_MODULES)


def get_family(name: str) -> type[ModelFamily]:
    return FAMILIES.get(name)
