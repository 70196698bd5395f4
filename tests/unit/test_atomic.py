"""lathe.atomic: whole files or none, with the mode the user's umask gives."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lathe.atomic import atomic_write, write_bytes_atomic, write_text_atomic
from lathe.errors import UsageError


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_follows_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        path = write_text_atomic(tmp_path / "a" / "out.txt", "x")  # parents are made
    finally:
        os.umask(old)
    assert path.read_text() == "x"
    assert path.stat().st_mode & 0o777 == mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half(tmp: Path) -> None:
        tmp.write_text("half of it")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_writer_gets_an_empty_file_it_may_reopen(tmp_path: Path) -> None:
    seen: list[int] = []

    def write(tmp: Path) -> None:
        seen.append(tmp.stat().st_size)
        with tmp.open("wb") as handle:
            handle.write(b"abc")

    assert atomic_write(tmp_path / "f", write).read_bytes() == b"abc"
    assert seen == [0]


def test_a_directory_or_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        write_text_atomic(tmp_path, "x", what="the report")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot write the predictions to") as err:
        write_text_atomic(blocker / "out.csv", "x", what="the predictions",
                          hint="choose a writable location for --out")
    assert "--out" in str(err.value)
