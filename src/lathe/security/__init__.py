"""Security: signed artifacts, encryption at rest, registry roles.

    lathe keys new --out ci.key                      # Ed25519 signing key + ci.key.pub
    lathe train data.csv --target y --sign ci.key    # or LATHE_SIGNING_KEY=ci.key
    LATHE_TRUSTED_KEYS=ci.key.pub lathe serve churn@champion
    lathe keys new --encryption --out enc.key
    LATHE_ENCRYPTION_KEY_FILE=enc.key lathe registry register models/churn --name churn

Modules: `keys` (key files), `signing` (manifest signatures and the trust policy),
`crypto` (envelope AES-256-GCM: data keys wrapped by a key-encryption key), `roles`
(who may do what to which model name). The package sits between the registry and the
loaded model: the registry, the server and the API call it; it imports only the artifact
format, the errors and `cryptography` (lazily, inside the functions that need it).

>>> from lathe.security import ROLES
>>> ROLES
('reader', 'writer', 'promoter', 'admin')
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "new_signing_key": "lathe.security.keys",
    "new_encryption_key": "lathe.security.keys",
    "sign_artifact": "lathe.security.signing",
    "check_artifact": "lathe.security.signing",
    "trusted_from_env": "lathe.security.signing",
    "ROLES": "lathe.security.roles",
    "ACTIONS": "lathe.security.roles",
    "role_allows": "lathe.security.roles",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lathe.security' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
