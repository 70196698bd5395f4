"""Key files: Ed25519 signing keys (PEM, with a `.pub` beside) and key-encryption keys.

    lathe keys new --out lathe-signing.key               # lathe-signing.key + .pub
    lathe keys new --encryption --out enc.key            # 32 random bytes, base64, mode 0600

Private keys are written with mode 0600 by one atomic rename, and never over an existing
file. A key id is the first 16 hex digits of the sha256 of the raw public key (for an
encryption key, of the key itself): short enough to print, enough to tell keys apart.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> info = new_signing_key(d / "ci.key")
>>> sorted(p.name for p in d.iterdir()), len(info["key_id"])
(['ci.key', 'ci.key.pub'], 16)
>>> load_public_key(d / "ci.key.pub")[0] == info["key_id"]
True
>>> len(load_kek_file(new_encryption_key(d / "enc.key")["path"]))
32
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.errors import ConfigError, Conflict, MissingDependency, NotFound

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = ["new_signing_key", "new_encryption_key", "load_private_key", "load_public_key",
           "load_kek_file", "key_id", "public_key_id", "require_cryptography", "KEK_BYTES"]

KEK_BYTES = 32
_KEK_PREFIX = "lathe-kek-v1:"


def require_cryptography() -> None:
    """Raise MissingDependency (exit 69) when `cryptography` is not installed."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise MissingDependency(
            "signing and encryption need the 'cryptography' package",
            hint="pip install 'lathe[security]'",
        ) from None


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id(raw)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a new file `path` (refusing an existing one) by one atomic rename."""
    if path.exists():
        raise Conflict(f"{path} already exists; lathe never overwrites a key",
                       hint="choose another --out, or move the old key away first", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if `path` appeared meanwhile: never replaces a key
    except FileExistsError:
        raise Conflict(f"{path} already exists; lathe never overwrites a key",
                       hint="choose another --out", path=str(path)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def new_signing_key(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write a new Ed25519 private key at `out` (PEM, 0600) and its public key at `out`.pub."""
    require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(out)
    pub_path = path.with_name(path.name + ".pub")
    if pub_path.exists():
        raise Conflict(f"{pub_path} already exists; lathe never overwrites a key",
                       hint="choose another --out", path=str(pub_path))
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(path, pem, 0o600)
    _write_new(pub_path, pub, 0o644)
    return {"kind": "ed25519", "path": str(path), "public_key": str(pub_path),
            "key_id": public_key_id(private.public_key())}


def new_encryption_key(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write a new 256-bit key-encryption key at `out` (base64 text, 0600)."""
    path = Path(out)
    raw = secrets.token_bytes(KEK_BYTES)
    _write_new(path, (_KEK_PREFIX + base64.b64encode(raw).decode() + "\n").encode(), 0o600)
    return {"kind": "aes-256-kek", "path": str(path), "key_id": key_id(raw)}


def _read(path: Path, what: str, env: str | None) -> bytes:
    where = f" (from {env})" if env else ""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{what} {path}{where} does not exist",
                       hint="check the path, or make one with `lathe keys new`",
                       path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"{what} {path}{where} cannot be read: {exc.strerror}",
                          hint="check the file's permissions", path=str(path)) from None


def load_private_key(path: str | os.PathLike[str], env: str | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file `path` (ConfigError naming it otherwise)."""
    require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    file = Path(path)
    data = _read(file, "signing key", env)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        hint = ("pass the private key (the file without .pub)" if b"PUBLIC KEY" in data
                else "make one with `lathe keys new --out FILE`")
        raise ConfigError(f"signing key {file} is not a PEM private key ({exc})", hint=hint,
                          path=str(file)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"signing key {file} is not an Ed25519 key",
                          hint="make one with `lathe keys new --out FILE`", path=str(file))
    return key


def load_public_key(path: str | os.PathLike[str],
                    env: str | None = None) -> tuple[str, Ed25519PublicKey]:
    """(key id, key) of the Ed25519 public key in the PEM file `path`."""
    require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    file = Path(path)
    data = _read(file, "trusted key", env)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trusted key {file}{f' (from {env})' if env else ''} is not a PEM "
                          f"public key ({exc})",
                          hint="list the .pub files written by `lathe keys new`",
                          path=str(file)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"trusted key {file} is not an Ed25519 public key",
                          hint="list the .pub files written by `lathe keys new`", path=str(file))
    return public_key_id(key), key


def load_kek_file(path: str | os.PathLike[str], env: str | None = None) -> bytes:
    """The 32-byte key-encryption key in `path` (lathe's base64 text, or 32 raw bytes)."""
    file = Path(path)
    return parse_kek(_read(file, "encryption key", env), f"encryption key {file}")


def parse_kek(data: bytes, label: str) -> bytes:
    """A 32-byte key from `lathe-kek-v1:<base64>`, bare base64, or 32 raw bytes."""
    if len(data) == KEK_BYTES and not data.strip().startswith(_KEK_PREFIX.encode()):
        return data
    text = data.decode("ascii", errors="replace").strip().removeprefix(_KEK_PREFIX)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != KEK_BYTES:
        raise ConfigError(f"{label} is not a 256-bit key (expected {KEK_BYTES} bytes as base64)",
                          hint="make one with `lathe keys new --encryption --out FILE`")
    return raw
