"""Compression: int8 quantization, pruning and distillation, each measured against its parent.

Names are imported on first use so that `lathe --help` does not pay for scikit-learn.

>>> from lathe.compression import COMPRESSORS_MODULES
>>> sorted(COMPRESSORS_MODULES)
['distill', 'int8', 'prune']
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "COMPRESSORS": "lathe.compression._base",
    "COMPRESSORS_MODULES": "lathe.compression._base",
    "CompressionJob": "lathe.compression._base",
    "Compressor": "lathe.compression._base",
    "get_compressor": "lathe.compression._base",
    "comparison_table": "lathe.compression.measure",
    "format_table": "lathe.compression.measure",
    "measure": "lathe.compression.measure",
    "compress": "lathe.compression.pipeline",
}

__all__ = sorted(_EXPORTS) + ["METHODS"]


def __getattr__(name: str) -> Any:
    if name == "METHODS":
        return sorted(importlib.import_module("lathe.compression._base").COMPRESSORS_MODULES)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe.compression' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
