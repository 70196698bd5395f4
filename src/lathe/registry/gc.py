"""Garbage collection of a registry's blob folder: what a killed writer or a delete left.

`register` writes every blob before the transaction that inserts its version row (see
`lathe.registry.registry`), so a process killed in between leaves blobs no version
references (about 1 kill in 32 during a register); `delete` keeps a version's blobs on
purpose (another version may share them). `collect_garbage` finds

* orphan blobs: under `sha256/`, referenced by no version's manifest;
* partial writes: `tmp/*.part` files a killed `put` left;
* stale checkouts: `checkouts/NAME/VERSION-SHA` of versions that no longer exist, and
  `.stale-*`/staging directories a killed `materialize` left;

and removes them (unless `dry_run`). It also reports the rows that lost their data —
versions whose blobs are missing or altered, aliases pointing at a missing version — which
it cannot repair (`lathe registry restore` from a backup can).

Concurrency: a `register` running meanwhile may have written a blob whose version row is
not committed yet. Only files older than `min_age_s` (default one hour) are removed, and
`BlobStore.put` refreshes the time of a blob it reuses, so a blob about to be referenced is
always young. Run with `min_age_s=0` only when no writer can be running.

>>> import tempfile, pathlib
>>> from lathe.registry.registry import open_registry
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with open_registry(f"sqlite:///{root}/lathe.db") as reg:
...     orphan = reg.blobs.put(pathlib.Path(__file__))
...     report = collect_garbage(reg, min_age_s=0)
>>> report["orphan_blobs"][0]["sha256"] == orphan, report["removed"], reg.blobs.has(orphan)
(True, True, False)
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lathe.registry.store import aliases, versions

if TYPE_CHECKING:
    from lathe.registry._base import RegistryBase

__all__ = ["collect_garbage", "DEFAULT_MIN_AGE_S"]

DEFAULT_MIN_AGE_S = 3600.0


def _referenced(registry: RegistryBase
                ) -> tuple[dict[str, list[tuple[str, str]]], set[tuple[str, int]], list[Any]]:
    """sha256 -> [(version ref, file)] for every version; the live versions; alias rows."""
    refs: dict[str, list[tuple[str, str]]] = {}
    with registry.store.read() as conn:
        rows = conn.execute(sa.select(versions.c.name, versions.c.version,
                                      versions.c.manifest)).all()
        pointers = conn.execute(sa.select(aliases)).all()
    for row in rows:
        for rel, meta in (json.loads(row.manifest).get("files") or {}).items():
            refs.setdefault(meta["sha256"], []).append((f"{row.name}:{row.version}", rel))
    return refs, {(r.name, int(r.version)) for r in rows}, list(pointers)


def _age(path: Path, now: float) -> float:
    try:
        return now - path.lstat().st_mtime
    except FileNotFoundError:
        return -1.0  # gone meanwhile: nothing to do


def _stale_checkouts(root: Path, live: set[tuple[str, int]], old: Any) -> list[Path]:
    """Checkout directories of versions that no longer exist, and leftovers of killed ones."""
    base = root / "checkouts"
    found: list[Path] = []
    if not base.is_dir():
        return found
    for name_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for entry in sorted(name_dir.iterdir()):
            if entry.name.startswith("."):  # staging or `.stale-PID` of a killed checkout
                if old(entry):
                    found.append(entry)
                continue
            version = entry.name.split("-", 1)[0]
            if not version.isdigit() or (name_dir.name, int(version)) not in live:
                if old(entry):
                    found.append(entry)
    return found


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def collect_garbage(registry: RegistryBase, *, dry_run: bool = False,
                    min_age_s: float = DEFAULT_MIN_AGE_S, verify_blobs: bool = False,
                    now: float | None = None) -> dict[str, Any]:
    """Find (and unless `dry_run`, remove) what no version needs; report broken rows.

    Returns a JSON-ready dict: `orphan_blobs` [{sha256, bytes}], `partial_writes` and
    `stale_checkouts` [{path, bytes}], `kept_young` (orphans younger than `min_age_s`, left
    for a register that may be under way), `missing_blobs` [{version, file, sha256}],
    `dangling_aliases` [{name, alias, version}], `bytes_freed`, `removed`.
    With `verify_blobs`, every referenced blob is re-hashed (altered ones are reported).
    """
    registry.authorize("gc", "*")  # it removes blobs of every model: admins of '*'
    clock = time.time() if now is None else now
    blobs = registry.blobs
    refs, live, pointers = _referenced(registry)

    def old(path: Path) -> bool:
        return _age(path, clock) >= min_age_s

    orphans, young = [], 0
    for digest in list(blobs):
        if digest in refs:
            continue
        path = blobs.path(digest)
        if old(path):
            orphans.append(path)
        else:
            young += 1
    tmp = blobs.root / "tmp"
    partial = sorted(p for p in tmp.glob("*.part") if old(p)) if tmp.is_dir() else []
    checkouts = _stale_checkouts(blobs.root, live, old)
    missing: list[dict[str, str]] = []
    for digest, users in sorted(refs.items()):
        intact = blobs.is_intact(digest) if verify_blobs else blobs.has(digest)
        if not intact:
            missing.extend({"version": ref, "file": rel, "sha256": digest} for ref, rel in users)
    dangling = [{"name": p.name, "alias": p.alias, "version": int(p.version)}
                for p in pointers if (p.name, int(p.version)) not in live]
    report: dict[str, Any] = {
        "blob_root": str(blobs.root),
        "min_age_s": min_age_s,
        "referenced_blobs": len(refs),
        "orphan_blobs": [{"sha256": p.name, "bytes": _size(p)} for p in orphans],
        "partial_writes": [{"path": str(p), "bytes": _size(p)} for p in partial],
        "stale_checkouts": [{"path": str(p), "bytes": _size(p)} for p in checkouts],
        "kept_young": young,
        "missing_blobs": sorted(missing, key=lambda m: (m["version"], m["file"])),
        "dangling_aliases": dangling,
    }
    report["bytes_freed"] = sum(item["bytes"] for key in ("orphan_blobs", "partial_writes",
                                                          "stale_checkouts")
                                for item in report[key])
    report["removed"] = not dry_run
    if not dry_run:
        for path in [*orphans, *partial]:
            if _age(path, time.time()) >= min_age_s:  # not reused since the scan
                path.unlink(missing_ok=True)
        for path in checkouts:
            shutil.rmtree(path, ignore_errors=True)
        for path in orphans:  # empty fan-out folders (sha256/ab/) go too
            try:
                path.parent.rmdir()
            except OSError:
                pass
    return report
