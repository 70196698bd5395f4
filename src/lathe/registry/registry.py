"""The model registry: immutable versions, aliases with a promotion gate, rollback, audit.

Crash safety comes from ordering, not from cleanup: `register` writes every blob (each by
an atomic rename) *before* the one transaction that inserts the version row and its audit
row, so a version is never visible without its complete blobs; a crash before the commit
leaves only unreferenced blobs. Every alias move and its audit row commit together.
Deleting a version keeps its blobs (other versions may share them; a concurrent register
may be about to reference them).

>>> import tempfile, pathlib
>>> from lathe.artifact import write_artifact
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_artifact(root / "m", {"family": "demo", "task": "binary",
...     "metrics": {"test": {"roc_auc": 0.8}}}, lambda d: (d / "w.txt").write_text("1"))
>>> reg = open_registry(f"sqlite:///{root}/lathe.db")
>>> reg.register(root / "m", name="churn").ref
'churn:1'
>>> reg.promote("churn", 1).version, reg.resolve("churn@champion").ref
(1, 'churn:1')
>>> reg.close()
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import sqlalchemy as sa

from lathe.artifact import MANIFEST, artifact_sha256, verify
from lathe.errors import Conflict, IntegrityError, NotFound
from lathe.registry._base import _SUMMARY_COLUMNS, CHAMPION, _dumps, default_blob_root
from lathe.registry.checkouts import fresh_checkout, mark_verified
from lathe.registry.connect import open_store
from lathe.registry.promotion import Evaluate, RegistryPromotion
from lathe.registry.records import (
    ModelVersion,
    check_name,
    current_actor,
    not_found_name,
    utc_now,
)
from lathe.registry.store import aliases, models, versions
from lathe.security.signing import check_artifact

__all__ = ["ModelRegistry", "open_registry", "default_blob_root", "CHAMPION", "Evaluate"]


class ModelRegistry(RegistryPromotion):
    """Versions, aliases and audit in a database; artifact files in a blob folder.

    Contract: versions are immutable and their numbers are never reused; every state
    change writes exactly one audit row in the same transaction; the audit table is
    append-only (the database refuses UPDATE and DELETE on it).
    """

    # ---- register ----------------------------------------------------------------------
    def register(
        self, path: str | os.PathLike[str], *, name: str, note: str | None = None
    ) -> ModelVersion:
        """Copy a verified artifact into the registry as the next version of `name`.

        Registering an artifact already registered under `name` returns that version.
        """
        check_name(name)
        self.authorize("register", name)  # writers register (lathe.registry.access)
        root = Path(path)
        manifest = verify(root)  # refuses a tampered source before anything is stored
        # under LATHE_TRUSTED_KEYS only artifacts signed by a trusted key get in
        check_artifact(root, label=f"{root} (registering as {name})", manifest=manifest)
        digest = artifact_sha256(root)
        existing = self._find_artifact(name, digest)
        if existing is not None:
            return existing
        for rel, meta in sorted(manifest.get("files", {}).items()):
            self.blobs.put(root / rel, meta["sha256"])
        manifest_text = (root / MANIFEST).read_text(encoding="utf-8")
        lineage = manifest.get("lineage") or {}
        now = utc_now()
        with self.store.write() as conn:
            model = self.store.lock_model(conn, name, create_at=now)
            found = conn.execute(
                sa.select(versions).where(
                    versions.c.name == name, versions.c.artifact_sha256 == digest
                )
            ).first()
            if found is not None:  # registered by a concurrent process meanwhile
                return ModelVersion.from_row(found._mapping)
            number = int(model.next_version)
            row = {
                "name": name,
                "version": number,
                "artifact_sha256": digest,
                "family": manifest.get("family"),
                "task": manifest.get("task"),
                "primary_metric": manifest.get("primary_metric"),
                "metrics": _dumps(manifest.get("metrics") or {}),
                "config": _dumps(manifest.get("config") or {}),
                "dataset_hash": lineage.get("dataset_hash"),
                "parent": _parent_ref(lineage.get("parent")),
                "git_commit": lineage.get("git_commit"),
                "creator": current_actor(),
                "created_at": now,
                "note": note,
                "manifest": manifest_text,
            }
            conn.execute(versions.insert().values(**row))
            conn.execute(
                models.update().where(models.c.name == name).values(next_version=number + 1)
            )
            self._audit(
                conn,
                "register",
                name,
                version=number,
                after={"artifact_sha256": digest, "source": str(root), "note": note},
                reason=note,
            )
        return ModelVersion.from_row(row)

    def _find_artifact(self, name: str, digest: str) -> ModelVersion | None:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(*_SUMMARY_COLUMNS).where(
                    versions.c.name == name, versions.c.artifact_sha256 == digest
                )
            ).first()
        return None if row is None else ModelVersion.from_row(row._mapping)

    # ---- delete ------------------------------------------------------------------------
    def delete(self, name: str, version: int, *, reason: str | None = None) -> ModelVersion:
        """Remove a version that no alias points at (the champion cannot be deleted)."""
        version = int(version)
        self.authorize("delete", name)
        with self.store.write() as conn:
            if self.store.lock_model(conn, name) is None:
                raise not_found_name(name, self._names(conn))
            record = ModelVersion.from_row(self._version_row(conn, name, version)._mapping)
            holders = sorted(
                conn.execute(
                    sa.select(aliases.c.alias).where(
                        aliases.c.name == name, aliases.c.version == version
                    )
                ).scalars()
            )
            if holders:
                what = "the champion" if CHAMPION in holders else f"held by {holders}"
                raise Conflict(
                    f"{record.ref} is {what} and cannot be deleted",
                    hint=f"promote another version or `lathe registry rollback {name}` first",
                    aliases=holders,
                )
            conn.execute(
                versions.delete().where(versions.c.name == name, versions.c.version == version)
            )
            self._audit(
                conn,
                "delete",
                name,
                version=version,
                before={"artifact_sha256": record.artifact_sha256, "note": record.note},
                reason=reason,
            )
        return record

    # ---- artifacts ---------------------------------------------------------------------
    def materialize(self, ref: str | ModelVersion) -> Path:
        """A verified artifact directory for a version, rebuilt from blobs when needed.

        Plain blobs are checked out once into `<blobs>/checkouts/` (a cache: delete it any
        time). Encrypted blobs are decrypted, authenticated and re-hashed into a folder
        private to this process (memory-backed /dev/shm where there is one, removed at
        exit; see lathe.registry.checkouts), so nothing decrypted stays on disk.

        Raises IntegrityError naming the version and file if a blob is missing or altered.
        """
        record = self.resolve(ref) if isinstance(ref, str) else ref
        self.authorize("read", record.name)  # readers load
        with self.store.read() as conn:
            manifest_text = self._version_row(conn, record.name, record.version).manifest
        leaf = Path(record.name) / f"{record.version}-{record.artifact_sha256[:12]}"
        target = self.blobs.root / "checkouts" / leaf
        older: builtins.list[Path] = []
        if self.blobs.protected:
            # encrypted blobs: no plaintext copy next to them (an old one goes); decrypted
            # afresh every time, into this process's private folder
            shutil.rmtree(target, ignore_errors=True)
            target, older = fresh_checkout(leaf)
        if target.is_dir():
            try:
                verify(target)
                return target
            except (IntegrityError, NotFound):
                # A checkout is only a cache: move the damaged one aside and rebuild.
                stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
                os.replace(target, stale)
                shutil.rmtree(stale, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            files = json.loads(manifest_text).get("files", {})
            for rel, meta in sorted(files.items()):
                self.blobs.copy_out(meta["sha256"], staging / rel, label=f"{record.ref} file {rel}")
            (staging / MANIFEST).write_text(manifest_text, encoding="utf-8")
            if artifact_sha256(staging) != record.artifact_sha256:
                raise IntegrityError(
                    f"{record.ref}: its stored manifest does not match the registered hash",
                    hint="restore the registry from a backup",
                )
            os.chmod(staging, 0o755)
            try:
                os.replace(staging, target)
            except OSError:
                if not target.is_dir():  # not a concurrent checkout of the same version
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if older:  # earlier checkouts of this version: removed off the caller's path
            threading.Thread(target=_remove_all, args=(older,), daemon=True).start()
        if self.blobs.protected:
            mark_verified(target)  # every byte just authenticated and hashed: load once free
        return target

    # ---- invariants --------------------------------------------------------------------
    def check_consistency(self, *, verify_blobs: bool = True) -> builtins.list[str]:
        """Every problem found (empty when consistent); see lathe.registry.consistency."""
        from lathe.registry.consistency import check_consistency

        return check_consistency(self, verify_blobs=verify_blobs)

    # ---- backup ------------------------------------------------------------------------
    def backup(self, file: str | os.PathLike[str]) -> Path:
        from lathe.registry.backup import backup

        self.authorize("backup", "*")  # every model's rows and blobs: admins of '*'
        return backup(self, file)

    def restore(self, file: str | os.PathLike[str]) -> dict[str, int]:
        from lathe.registry.backup import restore

        self.authorize("restore", "*")  # an empty store is open; a guarded one needs '*'
        return restore(self, file)


def open_registry(
    url: str | None = None, blob_root: str | os.PathLike[str] | None = None
) -> ModelRegistry:
    """Open (creating and migrating if needed) the registry at `url`.

    `url` defaults to LATHE_STORE, else sqlite:///.lathe/lathe.db; `blob_root` to
    LATHE_BLOBS, else `blobs/` next to the SQLite file (or .lathe/blobs for PostgreSQL).
    """
    return ModelRegistry(open_store(url), blob_root)


def _remove_all(paths: builtins.list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _parent_ref(parent: object) -> str | None:
    """The lineage's parent as the registry shows it: its `ref` (NAME:VERSION for a retrained
    challenger, the source for a compressed child) when the manifest keeps a mapping."""
    if isinstance(parent, dict):
        ref = parent.get("ref") or parent.get("path")
        return None if ref is None else str(ref)[:500]
    return None if parent is None else str(parent)[:500]
