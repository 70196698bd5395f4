"""The model registry: versions, aliases, promotion gates, rollback, audit, backup.

    from lathe.registry import open_registry
    reg = open_registry("sqlite:///.lathe/lathe.db")        # or postgresql://..., LATHE_STORE
    v = reg.register("models/churn", name="churn", note="weekly retrain")   # churn:3
    reg.promote("churn", v.version)                          # gated against the champion
    reg.rollback("churn")                                    # back to the previous champion
    path = resolve_model_ref("churn@champion")               # a verified artifact directory

Names are imported lazily, so `lathe --help` does not pay for SQLAlchemy.

>>> from lathe.registry import parse_ref
>>> parse_ref("churn@champion")
('churn', None, 'champion')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lathe.registry.records import (
        AliasChange,
        AuditEvent,
        ModelSummary,
        ModelVersion,
        parse_ref,
    )
    from lathe.registry.refs import load_model, resolve_model_ref
    from lathe.registry.registry import ModelRegistry, open_registry

_EXPORTS = {
    "ModelRegistry": "lathe.registry.registry",
    "open_registry": "lathe.registry.registry",
    "resolve_model_ref": "lathe.registry.refs",
    "load_model": "lathe.registry.refs",
    "ModelVersion": "lathe.registry.records",
    "AliasChange": "lathe.registry.records",
    "AuditEvent": "lathe.registry.records",
    "ModelSummary": "lathe.registry.records",
    "parse_ref": "lathe.registry.records",
}

__all__ = [
    "AliasChange",
    "AuditEvent",
    "ModelRegistry",
    "ModelSummary",
    "ModelVersion",
    "load_model",
    "open_registry",
    "parse_ref",
    "resolve_model_ref",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
