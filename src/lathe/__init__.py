"""lathe: from a dataset to a model in production, and honest there.

>>> import lathe
>>> lathe.__version__
'0.1.0'

Public names are imported lazily so that `import lathe` and `lathe --help` stay instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Model": "lathe.model",
    "Metrics": "lathe.model",
    "train": "lathe.api",
    "load": "lathe.api",
    "evaluate": "lathe.api",
    "predict": "lathe.api",
    "check": "lathe.api",
    "decide": "lathe.api",
    "read_table": "lathe.data.load",
    "Schema": "lathe.data.schema",
    "LatheConfig": "lathe.config",
    "load_config": "lathe.config",
    "verify": "lathe.artifact",
    "LatheError": "lathe.errors",
    "DataError": "lathe.errors",
    "ConfigError": "lathe.errors",
    "NotFound": "lathe.errors",
    "IntegrityError": "lathe.errors",
    "SchemaMismatch": "lathe.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
