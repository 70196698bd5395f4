from __future__ import annotations

import json
from pathlib import Path

import pytest

from lathe.artifact import artifact_sha256, read_manifest, verify, write_artifact
from lathe.errors import IntegrityError, NotFound, UsageError


def _write(target: Path) -> dict:
    def files(d: Path) -> None:
        (d / "model").mkdir()
        (d / "model" / "w.bin").write_bytes(b"\x00" * 1000)

    return write_artifact(target, {"family": "demo"}, files)


def test_write_and_verify(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m")
    assert manifest["files"]["model/w.bin"]["bytes"] == 1000
    assert verify(tmp_path / "m")["family"] == "demo"
    assert len(artifact_sha256(tmp_path / "m")) == 64


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model" / "w.bin").write_bytes(b"\x00" * 10), "truncated"),
        (lambda d: (d / "model" / "w.bin").write_bytes(b"\x01" * 1000), "modified"),
        (lambda d: (d / "model" / "w.bin").unlink(), "missing"),
        (lambda d: (d / "extra.txt").write_text("x"), "unexpected"),
        (lambda d: (d / "manifest.json").write_text("{"), "corrupt"),
    ],
)
def test_verify_refuses_damage(tmp_path: Path, damage, message: str) -> None:
    _write(tmp_path / "m")
    damage(tmp_path / "m")
    with pytest.raises(IntegrityError, match=message):
        verify(tmp_path / "m")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "m")
    before = (tmp_path / "m" / "manifest.json").read_text()

    def boom(d: Path) -> None:
        (d / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_artifact(tmp_path / "m", {"family": "other"}, boom)
    assert (tmp_path / "m" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_refuses_to_overwrite_unrelated_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("precious")
    with pytest.raises(UsageError, match="not a lathe artifact"):
        _write(tmp_path / "docs")
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "precious"


def test_not_found_and_foreign_format(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_manifest(tmp_path / "none")
    _write(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="format 99 is not supported"):
        read_manifest(tmp_path / "m")
