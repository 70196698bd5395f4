"""Where decrypted checkouts of encrypted registry blobs live: one folder per process.

The folder is made on first use with mode 0700, in LATHE_CHECKOUT_DIR when set (a
memory-backed volume in a container whose /dev/shm is small), else in /dev/shm (memory,
never written to a disk) when that exists and is writable, else in the temporary folder; it is
removed when the process exits (normally, by SIGTERM through the server's drain, or by an
uncaught exception). Only a SIGKILL leaves it behind, in memory, until the next reboot.

Every checkout of an encrypted version is decrypted afresh (the encrypted blobs are what a
load verifies, not an earlier copy); `fresh_checkout` names a new folder for it and hands
back the older ones of the same version, which the caller removes once the new one is in
place, so a long-running process holds at most one copy of each version.

>>> root = private_checkouts()
>>> root.is_dir(), oct(root.stat().st_mode & 0o777), root is private_checkouts()
(True, '0o700', True)
>>> first, _ = fresh_checkout(Path("churn/1-abc")); second, older = fresh_checkout(Path("churn/1-abc"))
>>> first != second and older == [first]
True
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["private_checkouts", "fresh_checkout", "mark_verified", "take_verified"]

_LOCK = threading.Lock()
_ROOT: list[Path] = []
_COUNTER = itertools.count(1)
_LIVE: dict[str, list[Path]] = {}
_VERIFIED: set[str] = set()
_SHM = Path("/dev/shm")


def _remove(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that inherited the handler
        shutil.rmtree(path, ignore_errors=True)


def private_checkouts() -> Path:
    """This process's private folder for decrypted checkouts (made once, removed at exit)."""
    with _LOCK:
        if _ROOT and _ROOT[0].is_dir():
            return _ROOT[0]
        chosen = os.environ.get("LATHE_CHECKOUT_DIR")  # e.g. a memory-backed volume
        base: Path | None = Path(chosen) if chosen else None
        if base is None and _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK):
            base = _SHM
        root = Path(tempfile.mkdtemp(prefix="lathe-checkouts-", dir=base))
        os.chmod(root, 0o700)
        atexit.register(_remove, root, os.getpid())
        _ROOT[:] = [root]
        return root


def fresh_checkout(leaf: Path) -> tuple[Path, list[Path]]:
    """(a new folder name for a checkout of `leaf`, the earlier ones of that leaf)."""
    root = private_checkouts()
    with _LOCK:
        target = root / leaf.parent / f"{leaf.name}.{next(_COUNTER)}"
        older = _LIVE.get(str(leaf), [])
        _LIVE[str(leaf)] = [target]
    return target, older


def mark_verified(path: Path) -> None:
    """`path` was just rebuilt from encrypted blobs, every file authenticated and hashed
    against the manifest: the next load may skip hashing it all again (once)."""
    with _LOCK:
        _VERIFIED.add(str(path))


def take_verified(path: Path) -> bool:
    """Whether `path` was verified by its checkout and not loaded since (then forget it).

    >>> p = Path("/x/churn/1-abc.9"); mark_verified(p)
    >>> take_verified(p), take_verified(p)
    (True, False)
    """
    with _LOCK:
        if str(path) in _VERIFIED:
            _VERIFIED.discard(str(path))
            return True
        return False
