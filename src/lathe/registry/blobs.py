"""A content-addressed blob folder: each file stored once, under its sha256.

    <root>/sha256/ab/ab12...ef      one blob per distinct file content
    <root>/tmp/                     partial writes; a crash leaves only these behind

A blob appears by one atomic rename after its bytes are hashed and synced, so a blob
path either does not exist or holds the complete content: a process killed mid-write
cannot leave a truncated blob under its final name. Reads re-hash while copying and
refuse content that does not match its name.

Encryption at rest: with a key-encryption key in the environment (LATHE_ENCRYPTION_KEY_FILE,
see lathe.security.crypto) new blobs are stored AES-256-GCM encrypted under a data key
wrapped in `<root>/keyring.json`; only ciphertext is ever written here (encrypted while
streaming into the temporary file). A blob keeps the name of its plaintext's sha256, so
dedup and the manifests' file tables are unchanged; reads decrypt, authenticate every chunk
and re-hash. Reading an encrypted blob without the key, or with another key, is refused.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> src = root / "w.txt"; _ = src.write_text("weights")
>>> blobs = BlobStore(root / "blobs")
>>> digest = blobs.put(src)
>>> blobs.has(digest), blobs.copy_out(digest, root / "copy.txt", label="w.txt").read_text()
(True, 'weights')
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lathe.errors import IntegrityError, NotFound

if TYPE_CHECKING:
    from lathe.security.crypto import KeyRing

__all__ = ["BlobStore", "FROM_ENV"]

FROM_ENV = "env"
"""`BlobStore(root, keyring=FROM_ENV)`: the key ring of `root` under the environment's key."""

_BLOCK = 1 << 20


def _copy_hashing(src: Path, dst: Path, *, sync: bool) -> str:
    digest = hashlib.sha256()
    with src.open("rb") as reader, dst.open("wb") as writer:
        for block in iter(lambda: reader.read(_BLOCK), b""):
            digest.update(block)
            writer.write(block)
        if sync:
            writer.flush()
            os.fsync(writer.fileno())
    return digest.hexdigest()


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)


class _WriteBehind:
    """Writes blocks to `handle` from a thread, so decrypting and hashing the next block
    overlaps writing this one (the file syscalls release the GIL). `close` waits for the
    last block and re-raises a write error."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="lathe-blob-write", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (block := self.blocks.get()) is not None:
            if self.error is None:
                try:
                    self.handle.write(block)
                except BaseException as error:  # noqa: BLE001 - re-raised by close()
                    self.error = error

    def write(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        self.blocks.put(data)
        return len(data)

    def close(self) -> None:
        self.blocks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class BlobStore:
    """Blobs in a local folder. Safe for concurrent writers: same content, same name."""

    def __init__(self, root: str | os.PathLike[str],
                 keyring: KeyRing | None | str = FROM_ENV) -> None:
        # Absolute, so the checkout paths handed out stay valid after a chdir.
        self.root = Path(root).absolute()
        if keyring == FROM_ENV:
            from lathe.security.crypto import keyring_for

            keyring = keyring_for(self.root)
        self.keyring: KeyRing | None = keyring  # type: ignore[assignment]

    @property
    def encrypting(self) -> bool:
        """Whether new blobs are stored encrypted (a key is set)."""
        return self.keyring is not None and self.keyring.kek is not None

    @property
    def protected(self) -> bool:
        """Whether anything here may be encrypted (a key is set, or a key ring exists):
        then plaintext copies never stay on disk (see ModelRegistry.materialize)."""
        return self.keyring is not None

    def _is_sealed(self, path: Path) -> bool:
        from lathe.security.crypto import MAGIC, is_encrypted

        with path.open("rb") as handle:
            return is_encrypted(handle.read(len(MAGIC)))

    def _read_into(self, path: Path, writer: IO[bytes] | Any, label: str) -> str:
        """Copy the content of the stored blob `path` into `writer` (decrypting it when it
        is encrypted); return the content's sha256."""
        if self._is_sealed(path):
            from lathe.security.crypto import decrypt_stream

            with path.open("rb") as reader:
                return decrypt_stream(self.keyring, reader, writer, label)
        digest = hashlib.sha256()
        with path.open("rb") as reader:
            for block in iter(lambda: reader.read(_BLOCK), b""):
                digest.update(block)
                writer.write(block)
        return digest.hexdigest()

    def path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def is_intact(self, sha256: str) -> bool:
        path = self.path(sha256)
        if not path.is_file():
            return False
        if not self._is_sealed(path):
            return _hash(path) == sha256
        try:
            return self._read_into(path, _Sink(), f"blob {sha256[:12]}…") == sha256
        except IntegrityError:
            return False

    def put(self, src: Path, expected_sha256: str | None = None) -> str:
        """Store `src`; return its sha256. A blob already present intact is kept as is,
        its time refreshed: `lathe registry gc` leaves young unreferenced blobs alone, so
        one a register is about to reference is never collected (lathe.registry.gc)."""
        if expected_sha256 and self.is_intact(expected_sha256) and not (
                self.encrypting and not self._is_sealed(self.path(expected_sha256))):
            os.utime(self.path(expected_sha256))
            return expected_sha256  # (a plaintext blob is encrypted once a key is set)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            digest = self._seal(src, tmp) if self.encrypting else \
                _copy_hashing(src, tmp, sync=True)
            if expected_sha256 and digest != expected_sha256:
                raise IntegrityError(
                    f"{src} changed: its sha256 no longer matches the artifact manifest",
                    hint="re-save the artifact, then register it again",
                    path=str(src),
                )
            final = self.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)  # atomic: replaces a damaged copy too
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    def _seal(self, src: Path, tmp: Path) -> str:
        from lathe.security.crypto import encrypt_stream

        assert self.keyring is not None
        with src.open("rb") as reader, tmp.open("wb") as writer:
            digest = encrypt_stream(self.keyring, reader, writer)
            writer.flush()
            os.fsync(writer.fileno())
        return digest

    def put_stored(self, stored: Path, sha256: str) -> None:
        """Place `stored` (a blob file as this folder keeps it, encrypted or not: from a
        backup) under its name, after checking that its content hashes to `sha256`."""
        if self.is_intact(sha256):
            return
        if self.encrypting and not self._is_sealed(stored):
            self.put(stored, sha256)  # a plaintext backup into an encrypted registry
            return
        if self._read_into(stored, _Sink(), f"blob {sha256[:12]}…") != sha256:
            raise IntegrityError(f"blob {sha256[:12]}… does not match its name",
                                 hint="the backup is damaged; use another one")
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            _copy_hashing(stored, tmp, sync=True)
            self.path(sha256).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, self.path(sha256))
        finally:
            tmp.unlink(missing_ok=True)

    def copy_out(self, sha256: str, dst: Path, *, label: str) -> Path:
        """Copy a blob to `dst`, refusing a missing or altered blob (named by `label`)."""
        src = self.path(sha256)
        if not src.is_file():
            raise IntegrityError(
                f"{label}: blob {sha256[:12]}… is missing from {self.root}",
                hint="restore the blob folder from a backup (lathe registry restore)",
                blob=str(src),
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with dst.open("wb") as handle:
                behind = _WriteBehind(handle)
                try:
                    digest = self._read_into(src, behind, f"{label}: blob {sha256[:12]}…")
                finally:
                    behind.close()
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        if digest != sha256:
            dst.unlink(missing_ok=True)
            raise IntegrityError(
                f"{label}: blob {sha256[:12]}… in {self.root} was altered (sha256 differs)",
                hint="restore the blob folder from a backup (lathe registry restore)",
                blob=str(src),
            )
        return dst

    def __iter__(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/*")):
            if path.is_file():
                yield path.name

    def require(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound(f"blob {sha256} is not in {self.root}")
        return path
