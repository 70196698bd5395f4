"""Signed artifacts: an Ed25519 signature over the manifest, which hashes every file.

The signature lives in the manifest itself, under `signature`::

    "signature": {"algorithm": "ed25519", "key_id": "3f9a...", "signer": "ci",
                  "public_key": "<base64>", "signed_at": "2026-12-07T23:10:00+00:00", "value": "<base64>"}

and covers the canonical JSON (sorted keys, no spaces) of the whole manifest with
`signature.value` left out: the file table (so every byte of every file), the lineage
(with the parent's signature, for a compressed or retrained child), the signer and the time.
A registry stores the manifest text as it is, so the signature travels with the version.

Trust policy: `LATHE_TRUSTED_KEYS` (paths of `.pub` files, `:`-separated). When set, loading,
predicting, serving and registering refuse an artifact that is not signed by one of them
(exit 77, `Unauthorized`). When unset, signing is optional, but a signature that is present
must still match the manifest: an edited signed manifest is refused either way.

>>> import tempfile, pathlib, json
>>> from lathe.artifact import write_artifact, verify
>>> from lathe.security.keys import new_signing_key
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> key = new_signing_key(d / "ci.key")
>>> _ = write_artifact(d / "m", {"family": "demo"}, lambda p: (p / "w.txt").write_text("1"))
>>> sign_artifact(d / "m", d / "ci.key")["signer"]
'ci'
>>> check_artifact(d / "m", trusted=load_trusted([d / "ci.key.pub"]))["key_id"] == key["key_id"]
True
>>> m = json.loads((d / "m/manifest.json").read_text()); m["family"] = "other"
>>> _ = (d / "m/manifest.json").write_text(json.dumps(m))
>>> check_artifact(d / "m")
Traceback (most recent call last):
lathe.errors.IntegrityError: ...
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.artifact import MANIFEST, read_manifest
from lathe.atomic import write_text_atomic
from lathe.errors import IntegrityError, Unauthorized
from lathe.security.keys import load_private_key, load_public_key, public_key_id

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["sign_artifact", "sign_manifest", "check_artifact", "check_manifest",
           "load_trusted", "trusted_from_env", "signing_key_from_env", "parent_signature",
           "TRUSTED_ENV", "SIGNING_ENV", "Trusted"]

TRUSTED_ENV = "LATHE_TRUSTED_KEYS"
SIGNING_ENV = "LATHE_SIGNING_KEY"
ALGORITHM = "ed25519"

Trusted = dict[str, tuple[str, "Ed25519PublicKey"]]
"""key id -> (the .pub file it came from, the key)."""


def _payload(manifest: Mapping[str, Any]) -> bytes:
    body = dict(manifest)
    sig = dict(body.get("signature") or {})
    sig.pop("value", None)
    body["signature"] = sig
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def sign_manifest(manifest: Mapping[str, Any], key_file: str | os.PathLike[str], *,
                  signer: str | None = None) -> dict[str, Any]:
    """`manifest` with a fresh `signature` by the private key in `key_file`."""
    private = load_private_key(key_file)
    stem = Path(key_file).name.removesuffix(".key").removesuffix(".pem")
    out = {k: v for k, v in manifest.items() if k != "signature"}
    out["signature"] = {
        "algorithm": ALGORITHM,
        "key_id": public_key_id(private.public_key()),
        "signer": signer or stem,
        "public_key": _raw_public(private.public_key()),
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out["signature"]["value"] = base64.b64encode(private.sign(_payload(out))).decode()
    return out


def sign_artifact(path: str | os.PathLike[str], key_file: str | os.PathLike[str], *,
                  signer: str | None = None) -> dict[str, Any]:
    """Sign the artifact at `path` in place (its manifest is rewritten atomically); return
    the signature record. Only the manifest changes: the file table it signs is unchanged."""
    root = Path(path)
    signed = sign_manifest(read_manifest(root), key_file, signer=signer)
    write_text_atomic(root / MANIFEST, json.dumps(signed, indent=2, default=str))
    return dict(signed["signature"])


def load_trusted(paths: Iterable[str | os.PathLike[str]], env: str | None = None) -> Trusted:
    """The public keys in `paths` by key id."""
    out: Trusted = {}
    for path in paths:
        kid, key = load_public_key(path, env)
        out[kid] = (str(path), key)
    return out


def trusted_from_env() -> Trusted | None:
    """The keys listed in LATHE_TRUSTED_KEYS, or None when no trust policy is set."""
    text = os.environ.get(TRUSTED_ENV, "").strip()
    if not text:
        return None
    return load_trusted([p for p in text.split(os.pathsep) if p.strip()], TRUSTED_ENV)


def signing_key_from_env() -> str | None:
    """LATHE_SIGNING_KEY (a private key file), or None."""
    return os.environ.get(SIGNING_ENV, "").strip() or None


def _raw_public(public: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _public_from_record(sig: Mapping[str, Any], trusted: Trusted | None) -> Any:
    """The key to check `sig` with: the trusted key of its id under a policy; without one,
    the public key the record carries (tamper-evidence only: anyone can re-sign)."""
    if trusted is not None:
        found = trusted.get(str(sig.get("key_id")))
        return None if found is None else found[1]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(str(sig.get("public_key")), validate=True))
    except ValueError:
        return None
    return public if public_key_id(public) == sig.get("key_id") else None


def check_manifest(manifest: Mapping[str, Any], label: str,
                   trusted: Trusted | None = None) -> dict[str, Any] | None:
    """Check `manifest`'s signature under the trust policy `trusted` (None: no policy).

    Returns the signature record (None when unsigned and no policy is set). Raises
    Unauthorized (exit 77) when a policy is set and the artifact is unsigned or signed by a
    key outside it, IntegrityError (exit 65) when the signature does not match the manifest.
    """
    sig = manifest.get("signature")
    if not sig:
        if trusted is None:
            return None
        raise Unauthorized(
            f"{label} is not signed, and {TRUSTED_ENV} requires a signature by "
            f"{_names(trusted)}",
            hint="sign it with `lathe train ... --sign KEY` (or LATHE_SIGNING_KEY), or unset "
            f"{TRUSTED_ENV} to load unsigned artifacts", artifact=label)
    if not isinstance(sig, Mapping) or sig.get("algorithm") != ALGORITHM or \
            not isinstance(sig.get("value"), str):
        raise IntegrityError(f"{label}: its manifest's signature is malformed",
                             hint="re-sign the artifact with `lathe keys` / --sign",
                             artifact=label)
    signer = f"{sig.get('signer')!s} (key {sig.get('key_id')!s})"
    public = _public_from_record(sig, trusted)
    if public is None:
        if trusted is not None:
            raise Unauthorized(
                f"{label} is signed by {signer}, which is not one of the trusted keys "
                f"{_names(trusted)}",
                hint=f"add the signer's .pub file to {TRUSTED_ENV}, or re-sign the artifact "
                "with a trusted key", artifact=label, signer=sig.get("signer"),
                key_id=sig.get("key_id"))
        raise IntegrityError(f"{label}: its signature by {signer} carries no valid public key",
                             hint="re-sign the artifact with --sign KEY", artifact=label)
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(base64.b64decode(sig["value"], validate=True), _payload(manifest))
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            f"{label}: the signature by {signer} does not match the manifest (it was changed "
            "after signing, or the signature was swapped)",
            hint="restore the artifact from its source; do not edit signed artifacts",
            artifact=label, signer=sig.get("signer"), key_id=sig.get("key_id")) from None
    return dict(sig)


def check_artifact(path: str | os.PathLike[str], *, trusted: Trusted | None = None,
                   label: str | None = None, manifest: Mapping[str, Any] | None = None
                   ) -> dict[str, Any] | None:
    """`check_manifest` of the artifact at `path` (its manifest read unless given). With
    `trusted` None the policy comes from LATHE_TRUSTED_KEYS."""
    if trusted is None:
        trusted = trusted_from_env()
    data = manifest if manifest is not None else read_manifest(os.fspath(path))
    return check_manifest(data, label or str(path), trusted)


def parent_signature(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a child keeps of its parent's signature in `lineage.parent.signature`."""
    sig = manifest.get("signature")
    if not isinstance(sig, Mapping):
        return None
    return {k: sig.get(k) for k in ("algorithm", "key_id", "signer", "signed_at", "value")}


def _names(trusted: Trusted) -> str:
    return ", ".join(f"{Path(path).name} ({kid})" for kid, (path, _) in sorted(trusted.items()))
