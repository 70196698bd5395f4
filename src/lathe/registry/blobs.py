"""A content-addressed blob folder: each file stored once, under its sha256.

    <root>/sha256/ab/ab12...ef      one blob per distinct file content
    <root>/tmp/                     partial writes; a crash leaves only these behind

A blob appears by one atomic rename after its bytes are hashed and synced, so a blob
path either does not exist or holds the complete content: a process killed mid-write
cannot leave a truncated blob under its final name. Reads re-hash while copying and
refuse content that does not match its name.

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
import uuid
from collections.abc import Iterator
from pathlib import Path

from lathe.errors import IntegrityError, NotFound

__all__ = ["BlobStore"]

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


class BlobStore:
    """Blobs in a local folder. Safe for concurrent writers: same content, same name."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        # Absolute, so the checkout paths handed out stay valid after a chdir.
        self.root = Path(root).absolute()

    def path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def is_intact(self, sha256: str) -> bool:
        path = self.path(sha256)
        return path.is_file() and _hash(path) == sha256

    def put(self, src: Path, expected_sha256: str | None = None) -> str:
        """Store `src`; return its sha256. A blob already present intact is kept as is,
        its time refreshed: `lathe registry gc` leaves young unreferenced blobs alone, so
        one a register is about to reference is never collected (lathe.registry.gc)."""
        if expected_sha256 and self.is_intact(expected_sha256):
            os.utime(self.path(expected_sha256))
            return expected_sha256
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            digest = _copy_hashing(src, tmp, sync=True)
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
        if _copy_hashing(src, dst, sync=False) != sha256:
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
