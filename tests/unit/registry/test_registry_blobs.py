from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lathe.errors import IntegrityError
from lathe.registry.blobs import BlobStore


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(b"abc" * 1000)
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(src)
    assert digest == hashlib.sha256(b"abc" * 1000).hexdigest()
    assert blobs.put(src, digest) == digest
    assert list(blobs) == [digest]
    assert not list((tmp_path / "blobs" / "tmp").iterdir())  # no partial files left


def test_put_refuses_source_that_does_not_match_manifest(tmp_path: Path) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(b"abc")
    with pytest.raises(IntegrityError, match="changed"):
        BlobStore(tmp_path / "blobs").put(src, "0" * 64)


def test_copy_out_refuses_missing_or_altered_blob_naming_label(tmp_path: Path) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(b"weights")
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(src)
    blobs.path(digest).write_bytes(b"weightz")
    with pytest.raises(IntegrityError, match="m:1 file model/w.bin.*altered"):
        blobs.copy_out(digest, tmp_path / "out", label="m:1 file model/w.bin")
    assert not (tmp_path / "out").exists()
    blobs.put(src, digest)  # re-putting heals a damaged blob
    assert blobs.copy_out(digest, tmp_path / "out", label="x").read_bytes() == b"weights"
    blobs.path(digest).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        blobs.copy_out(digest, tmp_path / "out2", label="m:1 file model/w.bin")
