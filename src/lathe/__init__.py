"""lathe: from a dataset to a model in production, and honest there.

>>> import lathe
>>> lathe.__version__
'0.1.0'

Public names are imported lazily so that `import lathe` and `lathe --help` stay instant.
"""

import importlib as _importlib
import sys as _sys
import types as _types
from typing import Any as _Any

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
    "tune": "lathe.api",
    "compress": "lathe.api",
    "explain": "lathe.api",
    "register": "lathe.api",
    "compare": "lathe.api",
    "validate": "lathe.api",
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


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Lathe(_types.ModuleType):
    """`lathe.explain` is the verb (lathe.api.explain), though a subpackage shares its name:
    importing `lathe.explain` (the package) must not rebind the attribute, as the import
    system would. The package stays reachable by import (`from lathe.explain import ...`)."""

    def __setattr__(self, name: str, value: _Any) -> None:
        if name in _EXPORTS and isinstance(value, _types.ModuleType) and \
                value.__name__ != _EXPORTS[name]:
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Lathe
