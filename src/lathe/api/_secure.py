"""Security verbs: keys, signing, verification and registry roles (re-exported by
`lathe.api`); the work is done by `lathe.security` and the registry."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["keys_new", "keys_sign", "keys_verify", "keys_rotate", "registry_grant",
           "registry_revoke", "registry_grants"]


def keys_new(out: str | os.PathLike[str], *, encryption: bool = False) -> dict[str, Any]:
    """A new Ed25519 signing key at `out` (+ `out`.pub), or with `encryption` a 256-bit
    key-encryption key; returns {kind, path, key_id[, public_key]}."""
    from lathe.security.keys import new_encryption_key, new_signing_key

    return new_encryption_key(out) if encryption else new_signing_key(out)


def keys_sign(model: str | os.PathLike[str], key: str | os.PathLike[str]) -> dict[str, Any]:
    """Sign the artifact directory `model` in place, after checking every file's hash."""
    from lathe.artifact import verify
    from lathe.security.signing import sign_artifact

    verify(os.fspath(model))
    return sign_artifact(model, key)


def keys_verify(model: str | os.PathLike[str]) -> dict[str, Any]:
    """Verify the files and the signature of an artifact or registry reference."""
    from lathe.registry.refs import load_model
    from lathe.security.signing import trusted_from_env

    loaded = load_model(model)  # hashes every file, checks the signature under the policy
    sig = loaded.manifest.get("signature")
    trusted = trusted_from_env()
    if sig:
        how = "a trusted key" if trusted is not None else "its own key (no LATHE_TRUSTED_KEYS)"
        message = f"every file matches; signed by {sig.get('signer')} (key " \
                  f"{sig.get('key_id')}), checked against {how}"
    else:
        message = "every file matches; not signed"
    return {"model": os.fspath(model), "path": str(loaded.path), "signed": bool(sig),
            "signer": (sig or {}).get("signer"), "key_id": (sig or {}).get("key_id"),
            "trusted_policy": trusted is not None, "message": message}


def keys_rotate(new_key: str | os.PathLike[str], *, store: str | None = None,
                prediction_log: str | None = None) -> dict[str, Any]:
    """Re-wrap the data keys under the key-encryption key in `new_key` (the one in use now
    comes from LATHE_ENCRYPTION_KEY_FILE & co.): the registry's, or with `prediction_log`
    (a URL) that log's. Nothing encrypted is re-encrypted."""
    from lathe.errors import UsageError
    from lathe.security.keys import load_kek_file

    new = load_kek_file(new_key)
    if prediction_log is not None:
        from lathe.predlog import open_log

        log = open_log(prediction_log, create=False)
        try:
            if log.sealer is None:
                raise UsageError(f"the prediction log {prediction_log} is not encrypted",
                                 hint="start the server with LATHE_ENCRYPTION_KEY_FILE set")
            done = log.sealer.ring.rewrap(new)
            where = str(log.sealer.ring.path)
        finally:
            log.close()
    else:
        from lathe.registry.registry import open_registry

        with open_registry(store) as registry:
            ring = registry.blobs.keyring
            if ring is None or not ring.path.exists():
                raise UsageError(f"the registry's blobs in {registry.blobs.root} are not "
                                 "encrypted", hint="set LATHE_ENCRYPTION_KEY_FILE when "
                                 "registering to encrypt")
            done = ring.rewrap(new)
            where = str(ring.path)
    return {**done, "keyring": where, "new_key": os.fspath(new_key),
            "next": f"use LATHE_ENCRYPTION_KEY_FILE={os.fspath(new_key)} from now on"}


def registry_grant(user: str, role: str, name: str, *,
                   store: str | None = None) -> list[dict[str, Any]]:
    """Give `user` `role` on model `name` (or `*`); needs admin there (the very first grant
    of a registry makes its author admin of `*`). Returns the grants made."""
    from lathe.registry.registry import open_registry

    with open_registry(store) as registry:
        return registry.grant(user, role, name)


def registry_revoke(user: str, name: str, *, store: str | None = None) -> dict[str, Any]:
    """Take `user`'s grant on `name` away; needs admin there."""
    from lathe.registry.registry import open_registry

    with open_registry(store) as registry:
        return registry.revoke(user, name)


def registry_grants(name: str | None = None, *,
                    store: str | None = None) -> list[dict[str, Any]]:
    """Every grant (on `name` and on `*` when given)."""
    from lathe.registry.registry import open_registry

    with open_registry(store) as registry:
        return registry.grants(name)
