"""Envelope encryption at rest: AES-256-GCM under data keys wrapped by a key-encryption key.

The key-encryption key (KEK) comes from, in this order::

    LATHE_ENCRYPTION_KEY_FILE     a file written by `lathe keys new --encryption`
    LATHE_ENCRYPTION_KEY          the key itself, base64 (for secret managers that set env vars)
    LATHE_ENCRYPTION_KEY_COMMAND  a command printing the key (the hook a KMS plugs into;
                                  run without a shell, its stdout read, 30 s at most)

Data keys (DEKs, 256-bit, random) live wrapped by the KEK in a key ring file
(`keyring.json` in the blob folder). Rotating the KEK re-wraps the DEKs, not the data.

A stream (a registry blob) is a header then 1 MiB chunks, each sealed by AES-GCM with a nonce
of the blob's random 8-byte prefix + the chunk number, and the header, chunk number and a
last-chunk flag as associated data: flipping, reordering, dropping or appending any byte or
chunk is refused, never decrypted to garbage. A small value (a prediction log field) is one
GCM message with the DEK id in front (`seal` / `open_sealed`).

>>> import tempfile, pathlib, io
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> ring = KeyRing(d / "keyring.json", b"k" * 32, "test key")
>>> plain = b"weights" * 1000
>>> sealed = io.BytesIO(); digest = encrypt_stream(ring, io.BytesIO(plain), sealed)
>>> out = io.BytesIO(); decrypt_stream(ring, io.BytesIO(sealed.getvalue()), out, "w") == digest
True
>>> out.getvalue() == plain, sealed.getvalue()[:8]
(True, b'LATHEENC')
>>> open_sealed(ring, seal(ring, b"row 1"), "row")
b'row 1'
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from lathe.errors import ConfigError, IntegrityError, Unauthorized
from lathe.security.keys import KEK_BYTES, key_id, load_kek_file, parse_kek, require_cryptography

__all__ = ["KeyRing", "kek_from_env", "keyring_for", "encrypt_stream", "decrypt_stream",
           "is_encrypted", "seal", "open_sealed", "MAGIC", "KEY_ENVS", "CHUNK"]

MAGIC = b"LATHEENC"
VERSION = 1
CHUNK = 1 << 20
_TAG = 16
_HEADER = struct.Struct(">8sB16s8sI")  # magic, version, dek id (hex), nonce prefix, chunk
KEY_ENVS = ("LATHE_ENCRYPTION_KEY_FILE", "LATHE_ENCRYPTION_KEY", "LATHE_ENCRYPTION_KEY_COMMAND")
_SEALED = "lenc1:"


def kek_from_env() -> tuple[bytes, str] | None:
    """(KEK, where it came from) from the environment, or None when no key is configured."""
    file = os.environ.get("LATHE_ENCRYPTION_KEY_FILE", "").strip()
    if file:
        return load_kek_file(file, "LATHE_ENCRYPTION_KEY_FILE"), f"key file {file}"
    text = os.environ.get("LATHE_ENCRYPTION_KEY", "").strip()
    if text:
        return parse_kek(text.encode(), "LATHE_ENCRYPTION_KEY"), "LATHE_ENCRYPTION_KEY"
    command = os.environ.get("LATHE_ENCRYPTION_KEY_COMMAND", "").strip()
    if command:
        try:
            done = subprocess.run(shlex.split(command), capture_output=True, timeout=30,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"LATHE_ENCRYPTION_KEY_COMMAND {command!r} could not run: {exc}",
                              hint="check the command (it runs without a shell)") from None
        if done.returncode != 0:
            raise ConfigError(f"LATHE_ENCRYPTION_KEY_COMMAND {command!r} exited "
                              f"{done.returncode}", hint="run it by hand to see why")
        return parse_kek(done.stdout, "the output of LATHE_ENCRYPTION_KEY_COMMAND"), \
            "LATHE_ENCRYPTION_KEY_COMMAND"
    return None


def _aesgcm(key: bytes) -> Any:
    require_cryptography()
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


class KeyRing:
    """The wrapped data keys of one folder, unwrapped with the KEK on first use.

    Rules: the ring file is written by one atomic rename (created at most once: concurrent
    first writers agree on the ring that won); a DEK is never deleted while data may use it.
    Without a KEK (`kek=None`) the ring can only say which key it would need. A ring kept
    elsewhere (a database table: lathe.predlog) overrides `_read`, `_write_new` and
    `_replace`, which see the ring as a dict {version, current, data_keys}.
    """

    def __init__(self, path: str | os.PathLike[str], kek: bytes | None, source: str) -> None:
        self.path = Path(path)
        self.kek, self.source = kek, source
        self.kek_id = None if kek is None else key_id(kek)
        self._keys: dict[str, bytes] = {}

    # ---- the ring file -----------------------------------------------------------------
    def _read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            raise IntegrityError(f"key ring {self.path} is corrupt",
                                 hint="restore it from a backup (without it the encrypted "
                                 "data cannot be read)", path=str(self.path)) from None
        return data

    def _write_new(self, ring: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}")
        tmp.write_text(json.dumps(ring, indent=2), encoding="utf-8")
        try:
            os.link(tmp, self.path)  # create only if absent: the first writer wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    def _replace(self, ring: dict[str, Any]) -> None:
        from lathe.atomic import write_text_atomic

        write_text_atomic(self.path, json.dumps(ring, indent=2))

    def _wrap(self, dek_id: str, dek: bytes, kek: bytes) -> str:
        nonce = secrets.token_bytes(12)
        return base64.b64encode(nonce + _aesgcm(kek).encrypt(nonce, dek, dek_id.encode())).decode()

    def _unwrap(self, dek_id: str, entry: dict[str, Any], kek: bytes, label: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        blob = base64.b64decode(entry["wrapped"])
        try:
            return bytes(_aesgcm(kek).decrypt(blob[:12], blob[12:], dek_id.encode()))
        except InvalidTag:
            raise Unauthorized(
                f"{label}: the encryption key from {self.source} (id {key_id(kek)}) is not the "
                f"key this data was encrypted under (id {entry.get('kek_id')})",
                hint="set LATHE_ENCRYPTION_KEY_FILE to the right key file", path=str(self.path),
                ) from None

    def current(self) -> tuple[str, bytes]:
        """(id, key) of the data key new data is encrypted with; made on first use."""
        if self.kek is None:
            raise Unauthorized("no encryption key is set", hint="set LATHE_ENCRYPTION_KEY_FILE")
        ring = self._read()
        if ring is None:
            dek, dek_id = secrets.token_bytes(32), secrets.token_hex(8)
            self._write_new({"version": 1, "current": dek_id, "data_keys": {dek_id: {
                "wrapped": self._wrap(dek_id, dek, self.kek), "kek_id": self.kek_id,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds")}}})
            ring = self._read()
            assert ring is not None
        dek_id = str(ring["current"])
        return dek_id, self.data_key(dek_id, str(self.path))

    def data_key(self, dek_id: str, label: str) -> bytes:
        """The unwrapped data key `dek_id`, refusing a missing or wrong KEK by name."""
        if dek_id in self._keys:
            return self._keys[dek_id]
        if self.kek is None:
            raise Unauthorized(f"{label} is encrypted, and no encryption key is set",
                               hint="set LATHE_ENCRYPTION_KEY_FILE (or LATHE_ENCRYPTION_KEY / "
                               "LATHE_ENCRYPTION_KEY_COMMAND) to the key it was stored with")
        ring = self._read() or {}
        entry = ring.get("data_keys", {}).get(dek_id)
        if entry is None:
            raise IntegrityError(f"{label}: its data key {dek_id} is not in {self.path}",
                                 hint="restore the key ring from a backup", path=str(self.path))
        self._keys[dek_id] = self._unwrap(dek_id, entry, self.kek, label)
        return self._keys[dek_id]

    def rewrap(self, new_kek: bytes) -> dict[str, Any]:
        """Re-wrap every data key under `new_kek` (the data itself is not touched)."""
        if self.kek is None:
            raise Unauthorized("rotating needs the current key", hint="set "
                               "LATHE_ENCRYPTION_KEY_FILE to the key in use now")
        if len(new_kek) != KEK_BYTES:
            raise ConfigError("the new key is not 256 bits")
        ring = self._read()
        if ring is None:
            return {"rewrapped": 0, "kek_id": key_id(new_kek)}
        for dek_id, entry in ring["data_keys"].items():
            dek = self._unwrap(dek_id, entry, self.kek, str(self.path))
            entry.update(wrapped=self._wrap(dek_id, dek, new_kek), kek_id=key_id(new_kek))
        self._replace(ring)
        self.kek, self.kek_id = new_kek, key_id(new_kek)
        return {"rewrapped": len(ring["data_keys"]), "kek_id": self.kek_id}


def keyring_for(folder: str | os.PathLike[str]) -> KeyRing | None:
    """The key ring of `folder` under the KEK from the environment; None when no key is set
    and the folder holds no ring (nothing there is encrypted)."""
    found = kek_from_env()
    path = Path(folder) / "keyring.json"
    if found is None:
        return KeyRing(path, None, "no key") if path.exists() else None
    return KeyRing(path, found[0], found[1])


def is_encrypted(head: bytes) -> bool:
    return head[:len(MAGIC)] == MAGIC


def encrypt_stream(ring: KeyRing, reader: IO[bytes], writer: IO[bytes]) -> str:
    """Encrypt `reader` into `writer` under the ring's current data key; return the sha256
    of the plaintext (what the blob is named by)."""
    dek_id, dek = ring.current()
    prefix = secrets.token_bytes(8)
    header = _HEADER.pack(MAGIC, VERSION, dek_id.encode(), prefix, CHUNK)
    writer.write(header)
    aes, digest, index = _aesgcm(dek), hashlib.sha256(), 0
    block = reader.read(CHUNK)
    while True:
        following = reader.read(CHUNK) if len(block) == CHUNK else b""
        last = not following
        digest.update(block)
        aad = header + struct.pack(">QB", index, last)
        writer.write(aes.encrypt(prefix + struct.pack(">I", index), block, aad))
        if last:
            return digest.hexdigest()
        block, index = following, index + 1


def decrypt_stream(ring: KeyRing | None, reader: IO[bytes], writer: IO[bytes], label: str) -> str:
    """Decrypt what `encrypt_stream` wrote; return the plaintext's sha256. Any change to
    the bytes raises IntegrityError naming `label`; a missing or wrong key Unauthorized."""
    from cryptography.exceptions import InvalidTag

    header = reader.read(_HEADER.size)
    if len(header) < _HEADER.size or not is_encrypted(header):
        raise IntegrityError(f"{label}: not a lathe encrypted blob (header damaged)",
                             hint="restore the blob folder from a backup")
    _, version, raw_id, prefix, chunk = _HEADER.unpack(header)
    if version != VERSION or chunk != CHUNK:
        raise IntegrityError(f"{label}: encrypted blob header damaged (version {version}, "
                             f"chunk {chunk})", hint="restore the blob folder from a backup")
    if ring is None:
        raise Unauthorized(f"{label} is encrypted, and no encryption key is set",
                           hint="set LATHE_ENCRYPTION_KEY_FILE to the key it was stored with")
    aes = _aesgcm(ring.data_key(raw_id.decode("ascii", "replace"), label))
    digest, index = hashlib.sha256(), 0
    sealed = reader.read(CHUNK + _TAG)
    while True:
        following = reader.read(CHUNK + _TAG) if len(sealed) == CHUNK + _TAG else b""
        last = not following
        aad = header + struct.pack(">QB", index, last)
        try:
            block = aes.decrypt(prefix + struct.pack(">I", index), sealed, aad)
        except InvalidTag:
            raise IntegrityError(f"{label}: encrypted blob was altered or truncated (chunk "
                                 f"{index} fails authentication)",
                                 hint="restore the blob folder from a backup") from None
        digest.update(block)
        writer.write(block)
        if last:
            return digest.hexdigest()
        sealed, index = following, index + 1


def seal(ring: KeyRing, data: bytes, context: bytes = b"") -> str:
    """`data` encrypted as text (`lenc1:<base64>`), bound to `context` (e.g. a row id)."""
    dek_id, dek = ring.current()
    nonce = secrets.token_bytes(12)
    body = dek_id.encode() + nonce + _aesgcm(dek).encrypt(nonce, data, context)
    return _SEALED + base64.b64encode(body).decode()


def open_sealed(ring: KeyRing | None, text: str, label: str, context: bytes = b"") -> bytes:
    """The bytes `seal` sealed; IntegrityError if changed, Unauthorized without the key."""
    from cryptography.exceptions import InvalidTag

    if not text.startswith(_SEALED):
        raise IntegrityError(f"{label} is not sealed data", hint="was it written by lathe?")
    if ring is None:
        raise Unauthorized(f"{label} is encrypted, and no encryption key is set",
                           hint="set LATHE_ENCRYPTION_KEY_FILE to the key it was stored with")
    try:
        body = base64.b64decode(text[len(_SEALED):], validate=True)
        dek = ring.data_key(body[:16].decode("ascii"), label)
        return bytes(_aesgcm(dek).decrypt(body[16:28], body[28:], context))
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise IntegrityError(f"{label}: encrypted value was altered",
                             hint="the stored row is damaged; restore it from a backup") from None
