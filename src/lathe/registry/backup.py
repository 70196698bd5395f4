"""Backup and restore: one .tar.gz holding the database rows and the blobs they need.

    registry.json          format version, schema version, and every row of models,
                           versions, aliases and audit (read in one consistent snapshot)
    blobs/<sha256>         each blob a version references, once, as stored (encrypted
                           blobs stay encrypted)
    keyring.json           an encrypted registry's data keys, wrapped by its KEK; then
                           the rows are registry.json.sealed, readable only with the KEK

`backup` verifies every blob as it packs it and writes the file by rename, so a backup is
complete or absent. `restore` refuses a store that already holds anything (merging two
registries' version numbers and audit would rewrite history), checks every blob's hash,
then inserts all rows in one transaction and audits the restore itself.

>>> sorted(TABLE_ORDER)
['aliases', 'audit', 'models', 'versions']
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lathe.atomic import atomic_write
from lathe.errors import Conflict, IntegrityError, NotFound, UsageError
from lathe.registry.migrations import current_version
from lathe.registry.records import utc_now
from lathe.registry.store import aliases, audit, models, versions

if TYPE_CHECKING:
    from lathe.registry._base import RegistryBase

__all__ = ["BACKUP_FORMAT", "TABLE_ORDER", "backup", "restore", "read_backup"]

BACKUP_FORMAT = 1
ROWS = "registry.json"
KEYRING = "keyring.json"  # an encrypted registry's wrapped data keys (lathe.security.crypto)
SEALED = "registry.json.sealed"  # the rows of an encrypted registry, AES-256-GCM sealed
_AAD = b"lathe-backup-rows"
# Insert order respects foreign keys: models, then versions, then aliases.
TABLE_ORDER = {"models": models, "versions": versions, "aliases": aliases, "audit": audit}


def _snapshot(registry: RegistryBase) -> dict[str, Any]:
    with registry.store.read() as conn:
        tables = {
            key: [
                dict(row._mapping)
                for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for key, table in TABLE_ORDER.items()
        }
        schema = current_version(conn)
    for row in tables["audit"]:
        row.pop("id")  # restore appends in the same order; ids are the target's own
    return {"format": BACKUP_FORMAT, "schema_version": schema, "created_at": utc_now(), **tables}


def _referenced_blobs(rows: list[dict[str, Any]]) -> dict[str, str]:
    """sha256 -> 'NAME:VERSION file REL' (for error messages)."""
    out: dict[str, str] = {}
    for row in rows:
        for rel, meta in json.loads(row["manifest"]).get("files", {}).items():
            out.setdefault(meta["sha256"], f"{row['name']}:{row['version']} file {rel}")
    return out


def backup(registry: RegistryBase, file: str | os.PathLike[str]) -> Path:
    """Write the whole registry (rows and blobs) to one .tar.gz file."""
    target = Path(file)
    snapshot = _snapshot(registry)
    needed = _referenced_blobs(snapshot["versions"])
    for digest, label in needed.items():
        if not registry.blobs.is_intact(digest):
            raise IntegrityError(
                f"cannot back up: {label} (blob {digest[:12]}…) is missing or altered",
                hint="restore that blob from an earlier backup, or delete the version",
            )
    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            payload = json.dumps(snapshot, sort_keys=True).encode()
            name = ROWS
            if registry.blobs.encrypting and registry.blobs.keyring is not None:
                from lathe.security.crypto import seal  # the rows hold every manifest

                payload, name = seal(registry.blobs.keyring, payload, _AAD).encode(), SEALED
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
            for digest in sorted(needed):
                tar.add(registry.blobs.path(digest), arcname=f"blobs/{digest}", recursive=False)
            ring = registry.blobs.root / KEYRING
            if ring.is_file():  # wrapped data keys only: useless without the KEK
                tar.add(ring, arcname=KEYRING, recursive=False)

    return atomic_write(target, write, what="the backup", hint="choose a writable location")


def _open_rows(tar: tarfile.TarFile, sealed: bytes, path: Path) -> bytes:
    """The rows of an encrypted registry's backup, opened with the environment's key and
    the wrapped data keys the backup carries."""
    from lathe.security.crypto import KeyRing, kek_from_env, open_sealed

    member = tar.extractfile(KEYRING)
    if member is None:
        raise KeyError(KEYRING)
    found = kek_from_env()
    with tempfile.TemporaryDirectory() as scratch:
        ring_file = Path(scratch) / KEYRING
        ring_file.write_bytes(member.read())
        ring = KeyRing(ring_file, None if found is None else found[0],
                       "no key" if found is None else found[1])
        return open_sealed(ring, sealed.decode("ascii"), f"backup {path}", _AAD)


def read_backup(file: str | os.PathLike[str]) -> dict[str, Any]:
    """The rows of a backup file (validated), without touching any store."""
    path = Path(file)
    if not path.is_file():
        raise NotFound(f"{path}: no such backup file", hint="check the path", path=str(path))
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = set(tar.getnames())
            member = tar.extractfile(ROWS if ROWS in names or SEALED not in names else SEALED)
            if member is None:
                raise KeyError(ROWS)
            data = member.read()
            if SEALED in names and ROWS not in names:
                data = _open_rows(tar, data, path)
            snapshot = json.loads(data)
    except (tarfile.TarError, KeyError, OSError, json.JSONDecodeError) as exc:
        raise IntegrityError(
            f"{path} is not a lathe registry backup ({exc})",
            hint="pass a file written by `lathe registry backup`",
            path=str(path),
        ) from None
    if snapshot.get("format") != BACKUP_FORMAT:
        raise IntegrityError(
            f"{path}: backup format {snapshot.get('format')!r} is not supported "
            f"(this lathe reads {BACKUP_FORMAT})",
            hint="restore it with the lathe version that wrote it",
        )
    return snapshot


def _is_empty(conn: sa.Connection) -> bool:
    return all(
        conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 0
        for t in (models, audit)
    )


def _restore_keyring(registry: RegistryBase, tar: tarfile.TarFile) -> None:
    """Bring the backup's wrapped data keys into the target's key ring (encrypted blobs
    come back as they were stored, so they need the data keys they were sealed with)."""
    try:
        member = tar.extractfile(KEYRING)
    except KeyError:
        return
    if member is None:
        return
    theirs = json.loads(member.read())
    target = registry.blobs.root / KEYRING
    ours = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else theirs
    for dek_id, entry in theirs.get("data_keys", {}).items():
        ours.setdefault("data_keys", {}).setdefault(dek_id, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp: tmp.write_text(json.dumps(ours, indent=2)),
                 what="the key ring", hint="check the blob folder is writable")
    from lathe.security.crypto import keyring_for

    registry.blobs.keyring = keyring_for(registry.blobs.root)


def restore(registry: RegistryBase, file: str | os.PathLike[str]) -> dict[str, int]:
    """Load a backup into an empty store; return how many rows of each table came back."""
    path = Path(file)
    snapshot = read_backup(path)
    with registry.store.read() as conn:
        if not _is_empty(conn):
            raise Conflict(
                f"cannot restore {path}: the registry at {registry.store.url.redacted()} "
                "is not empty",
                hint="restore into a new store (--store URL) ",
            )
        if snapshot["schema_version"] > current_version(conn):
            raise UsageError(f"{path} was written by a newer lathe", hint="upgrade lathe")
    needed = _referenced_blobs(snapshot["versions"])
    with tarfile.open(path, "r:gz") as tar, tempfile.TemporaryDirectory() as scratch:
        _restore_keyring(registry, tar)
        for digest, label in needed.items():
            try:
                member = tar.extractfile(f"blobs/{digest}")
            except KeyError:
                member = None
            if member is None:
                raise IntegrityError(f"{path}: {label} (blob {digest[:12]}…) is not in the backup")
            part = Path(scratch) / digest
            with part.open("wb") as out:
                while block := member.read(1 << 20):
                    out.write(block)
            registry.blobs.put_stored(part, digest)  # re-hashes: a corrupt backup is refused
            part.unlink()
    with registry.store.write() as conn:
        if registry.store.dialect == "postgresql":
            prefix = f'"{registry.store.url.schema}".' if registry.store.url.schema else ""
            conn.exec_driver_sql(f"LOCK TABLE {prefix}lathe_models IN EXCLUSIVE MODE")
        if not _is_empty(conn):
            raise Conflict(f"cannot restore {path}: the registry changed while restoring")
        counts = {}
        for key, table in TABLE_ORDER.items():
            rows = snapshot[key]
            if rows:
                conn.execute(table.insert(), rows)
            counts[key] = len(rows)
        registry._audit(
            conn,
            "restore",
            None,
            after={"file": str(path), **counts},
            reason=f"restore {path.name}",
        )
    return counts
