"""Atomic file writes: a file appears whole or not at all, with the mode the user expects.

One function for every file lathe writes in place of another (prediction tables, HTML
reports, registry backups, cached embeddings): the content goes to a temporary sibling,
which then replaces the target in one `os.replace` (atomic on POSIX within a directory), so
a crash or a full disk never leaves a half-written file behind, and readers see the old file
or the new one.

Mode: the temporary file is created with `os.open(..., 0o666)`, so the kernel applies the
process umask exactly as it does for `open(path, "w")` (0644 under umask 022).
`tempfile.mkstemp` would make it 0600, and every output would be private to its writer. A
file that already exists keeps its mode (as editors and `sed -i` do).

Directories (artifacts, registry versions) are staged and swapped by their own writers;
this module is for single files.

>>> import os, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> old = os.umask(0o022)
>>> path = write_text_atomic(folder / "out.txt", "hello")
>>> path.read_text(), oct(path.stat().st_mode & 0o777)
('hello', '0o644')
>>> _ = os.umask(old)
>>> sorted(p.name for p in folder.iterdir())  # no temporary file is left behind
['out.txt']
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lathe.errors import UsageError

__all__ = ["atomic_write", "write_text_atomic", "write_bytes_atomic"]

_ATTEMPTS = 100


def _create_sibling(target: Path) -> Path:
    """A new empty file next to `target`, created 0o666 & ~umask (never an existing one)."""
    for _ in range(_ATTEMPTS):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name next to {target}")  # pragma: no cover


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any], *,
                 what: str = "the file", hint: str = "choose a writable location") -> Path:
    """Call `write(tmp)` to fill a temporary sibling of `path`, then move it into place.

    `write` receives the temporary path (a file that exists and is empty) and may reopen
    it as it likes (pandas, tarfile, numpy with an open handle). On any exception the
    temporary file is removed and the target is left as it was. A target that cannot be
    created (no such parent, no permission) is a `UsageError` naming `what` and `hint`.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"cannot write {what} to {target}: it is a directory",
                         hint="pass a file name", path=str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_sibling(target)
    except OSError as err:
        raise UsageError(f"cannot write {what} to {target}: {err.strerror or err}",
                         hint=hint, path=str(target)) from err
    try:
        write(tmp)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      what: str = "the file", hint: str = "choose a writable location") -> Path:
    """`atomic_write` of a string."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding),
                        what=what, hint=hint)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, what: str = "the file",
                       hint: str = "choose a writable location") -> Path:
    """`atomic_write` of bytes."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), what=what, hint=hint)
