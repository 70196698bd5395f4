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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lathe.artifact import MANIFEST, artifact_sha256, verify
from lathe.errors import Conflict, GateFailed, IntegrityError, NotFound, UsageError
from lathe.registry import gates
from lathe.registry.blobs import BlobStore
from lathe.registry.records import (
    AliasChange,
    AuditEvent,
    ModelSummary,
    ModelVersion,
    check_name,
    current_actor,
    not_found_name,
    not_found_version,
    parse_ref,
    utc_now,
)
from lathe.registry.store import Store, aliases, audit, models, open_store, versions

__all__ = ["ModelRegistry", "open_registry", "default_blob_root"]

CHAMPION = "champion"
_SUMMARY_COLUMNS = [c for c in versions.c if c.name != "manifest"]

Evaluate = Callable[[Path, Any], Mapping[str, Any]]
"""Scores an artifact directory on data: `evaluate(artifact_dir, data) -> metrics`."""


def _evaluate_artifact(path: Path, data: Any) -> Mapping[str, Any]:
    from lathe.model import Model

    return Model.load(path).evaluate(data)


def default_blob_root(store: Store) -> Path:
    """LATHE_BLOBS, else `blobs/` next to a SQLite file, else `.lathe/blobs`."""
    if os.environ.get("LATHE_BLOBS"):
        return Path(os.environ["LATHE_BLOBS"])
    if store.dialect == "sqlite":
        return store.url.sqlite_path.parent / "blobs"
    return Path(".lathe") / "blobs"


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


class ModelRegistry:
    """Versions, aliases and audit in a database; artifact files in a blob folder.

    Contract: versions are immutable and their numbers are never reused; every state
    change writes exactly one audit row in the same transaction; the audit table is
    append-only (the database refuses UPDATE and DELETE on it).
    """

    def __init__(self, store: Store, blob_root: str | os.PathLike[str] | None = None) -> None:
        self.store = store
        self.blobs = BlobStore(blob_root if blob_root is not None else default_blob_root(store))

    # ---- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ModelRegistry {self.store.url.redacted()} blobs={self.blobs.root}>"

    # ---- audit helper ------------------------------------------------------------------
    @staticmethod
    def _audit(conn: Connection, action: str, name: str | None, **values: Any) -> None:
        conn.execute(
            audit.insert().values(
                at=utc_now(),
                actor=current_actor(),
                action=action,
                name=name,
                version=values.get("version"),
                alias=values.get("alias"),
                before=_dumps(values.get("before")),
                after=_dumps(values.get("after")),
                reason=values.get("reason"),
            )
        )

    # ---- reads -------------------------------------------------------------------------
    def _names(self, conn: Connection) -> builtins.list[str]:
        return list(conn.execute(sa.select(models.c.name)).scalars())

    def _require_model(self, conn: Connection, name: str) -> None:
        if conn.execute(sa.select(models.c.name).where(models.c.name == name)).first() is None:
            raise not_found_name(name, self._names(conn))

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        row = conn.execute(
            sa.select(versions).where(versions.c.name == name, versions.c.version == version)
        ).first()
        if row is None:
            self._require_model(conn, name)
            numbers = conn.execute(
                sa.select(versions.c.version).where(versions.c.name == name)
            ).scalars()
            raise not_found_version(name, version, numbers)
        return row

    def _alias_version(self, conn: Connection, name: str, alias: str) -> int | None:
        return conn.execute(
            sa.select(aliases.c.version).where(aliases.c.name == name, aliases.c.alias == alias)
        ).scalar()

    def get(self, name: str, version: int) -> ModelVersion:
        with self.store.read() as conn:
            return ModelVersion.from_row(self._version_row(conn, name, int(version))._mapping)

    def resolve(self, ref: str) -> ModelVersion:
        """'NAME' (its champion), 'NAME@ALIAS' or 'NAME:VERSION' -> the version record."""
        name, version, alias = parse_ref(ref)
        with self.store.read() as conn:
            if version is None:
                assert alias is not None
                version = self._alias_version(conn, name, alias)
                if version is None:
                    self._require_model(conn, name)
                    known = list(
                        conn.execute(
                            sa.select(aliases.c.alias).where(aliases.c.name == name)
                        ).scalars()
                    )
                    from lathe.errors import did_you_mean

                    where = did_you_mean(alias, known) if known else f"{name} has no aliases yet"
                    raise NotFound(
                        f"{name} has no alias {alias!r}; {where}",
                        hint=f"promote a version: lathe registry promote {name} VERSION"
                        + ("" if alias == CHAMPION else f" --alias {alias}"),
                        name=name,
                        alias=alias,
                    )
            row = self._version_row(conn, name, version)
            return ModelVersion.from_row(row._mapping)

    def list(self, name: str | None = None) -> builtins.list[ModelVersion]:
        """Every version of `name` (or of every model), oldest first."""
        query = sa.select(*_SUMMARY_COLUMNS).order_by(versions.c.name, versions.c.version)
        with self.store.read() as conn:
            if name is not None:
                self._require_model(conn, name)
                query = query.where(versions.c.name == name)
            return [ModelVersion.from_row(row._mapping) for row in conn.execute(query)]

    def aliases(self, name: str) -> dict[str, int]:
        with self.store.read() as conn:
            self._require_model(conn, name)
            rows = conn.execute(
                sa.select(aliases.c.alias, aliases.c.version).where(aliases.c.name == name)
            )
            return {alias: version for alias, version in rows}

    def models(self) -> builtins.list[ModelSummary]:
        with self.store.read() as conn:
            counts = conn.execute(
                sa.select(
                    models.c.name,
                    sa.func.count(versions.c.version),
                    sa.func.max(versions.c.version),
                )
                .select_from(models.outerjoin(versions, versions.c.name == models.c.name))
                .group_by(models.c.name)
                .order_by(models.c.name)
            ).all()
            pointers: dict[str, dict[str, int]] = {}
            for name, alias, version in conn.execute(
                sa.select(aliases.c.name, aliases.c.alias, aliases.c.version)
            ):
                pointers.setdefault(name, {})[alias] = version
        return [ModelSummary(n, int(c), m, pointers.get(n, {})) for n, c, m in counts]

    def history(self, name: str | None = None) -> builtins.list[AuditEvent]:
        """The audit log (of one model, or all of it), oldest first."""
        query = sa.select(audit).order_by(audit.c.id)
        with self.store.read() as conn:
            if name is not None:
                self._require_model(conn, name)
                query = query.where(audit.c.name == name)
            return [AuditEvent.from_row(row._mapping) for row in conn.execute(query)]

    # ---- register ----------------------------------------------------------------------
    def register(
        self, path: str | os.PathLike[str], *, name: str, note: str | None = None
    ) -> ModelVersion:
        """Copy a verified artifact into the registry as the next version of `name`.

        Registering an artifact already registered under `name` returns that version.
        """
        check_name(name)
        root = Path(path)
        manifest = verify(root)  # refuses a tampered source before anything is stored
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
                "parent": lineage.get("parent"),
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

    # ---- promote / rollback ------------------------------------------------------------
    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = CHAMPION,
        on: Any = None,
        force: bool = False,
        reason: str | None = None,
        metric: str | None = None,
        tolerance: float = gates.DEFAULT_TOLERANCE,
        evaluate: Evaluate | None = None,
    ) -> AliasChange:
        """Point `alias` at NAME:VERSION. For the champion, the gate must pass unless forced.

        The gate compares the recorded test metrics of candidate and champion, or, with
        `on=DATA`, evaluates both on that data with `evaluate(artifact_dir, DATA)` (a
        callable returning a metrics mapping, such as `lathe.evaluate`; by default the
        artifact is loaded as a `lathe.model.Model` and evaluated). `force=True` needs a
        `reason` (audited).
        """
        check_name(alias, "alias")
        version = int(version)
        if force and not (reason and reason.strip()):
            raise UsageError(
                "--force needs --reason", hint='say why, e.g. --force --reason "hotfix for #42"'
            )
        gated = alias == CHAMPION
        candidate = self.get(name, version)
        for _attempt in range(5):
            with self.store.read() as conn:
                expected = self._alias_version(conn, name, alias)
            fresh: dict[int, float] = {}
            if gated and on is not None and expected not in (None, version):
                fresh = self._evaluate_on(on, candidate, expected, metric, evaluate)
            with self.store.write() as conn:
                self.store.lock_model(conn, name)
                self._version_row(conn, name, version)  # still there?
                current = self._alias_version(conn, name, alias)
                if current != expected and on is not None:
                    continue  # the champion moved while we evaluated: gate again
                if current == version:
                    return AliasChange(name, alias, version, current, changed=False)
                decision = None
                if gated and current is not None:
                    decision = self._decide(
                        conn, candidate, current, fresh, metric, tolerance, force
                    )
                    if decision is not None and not force:
                        gates.enforce(decision, candidate.ref, f"{name}:{current}")
                self._move_alias(conn, name, alias, version)
                gate = decision.to_dict() if decision is not None else None
                self._audit(
                    conn,
                    "promote",
                    name,
                    version=version,
                    alias=alias,
                    before={"version": current},
                    after={"version": version, "gate": gate, "forced": force, "on": _source(on)},
                    reason=reason,
                )
                return AliasChange(name, alias, version, current, True, gate, force, reason)
        raise Conflict(
            f"{name}@{alias} kept changing while the gate evaluated; nothing was promoted",
            hint="try again",
        )

    def _decide(
        self,
        conn: Connection,
        candidate: ModelVersion,
        champion_version: int,
        fresh: dict[int, float],
        metric: str | None,
        tolerance: float,
        force: bool,
    ) -> gates.GateDecision | None:
        champion = ModelVersion.from_row(
            self._version_row(conn, candidate.name, champion_version)._mapping
        )
        name = gates.gate_metric(candidate.task, metric)
        ours: float | None
        theirs: float | None
        if fresh:
            ours, theirs = fresh[candidate.version], fresh[champion_version]
        else:
            ours, theirs = candidate.test_metric(name), champion.test_metric(name)
        if ours is None or theirs is None:
            if force:
                return None
            missing = candidate.ref if ours is None else champion.ref
            raise GateFailed(
                f"promotion gate cannot compare {name}: {missing} has no recorded test {name}",
                hint="gate on data with --on DATA, choose --metric, or --force --reason",
                metric=name,
            )
        return gates.compare_metric(name, candidate=ours, champion=theirs, tolerance=tolerance)

    def _evaluate_on(
        self, data: Any, candidate: ModelVersion, champion_version: int, metric: str | None,
        evaluate: Evaluate | None,
    ) -> dict[int, float]:
        name = gates.gate_metric(candidate.task, metric)
        score = evaluate or _evaluate_artifact
        out = {}
        for record in (candidate, self.get(candidate.name, champion_version)):
            metrics = score(self.materialize(record), data)
            if not isinstance(metrics.get(name), (int, float)):
                raise GateFailed(
                    f"promotion gate: evaluating {record.ref} on {_source(data)} gave no {name}",
                    hint="choose a metric the task reports with --metric",
                    metric=name,
                )
            out[record.version] = float(metrics[name])
        return out

    def _move_alias(self, conn: Connection, name: str, alias: str, version: int) -> None:
        values = {"version": version, "updated_at": utc_now(), "updated_by": current_actor()}
        moved = conn.execute(
            aliases.update()
            .where(aliases.c.name == name, aliases.c.alias == alias)
            .values(**values)
        ).rowcount
        if not moved:
            conn.execute(aliases.insert().values(name=name, alias=alias, **values))

    def rollback(
        self, name: str, *, alias: str = CHAMPION, reason: str | None = None
    ) -> AliasChange:
        """Move `alias` back to the version that held it before (skipping deleted ones)."""
        check_name(alias, "alias")
        with self.store.write() as conn:
            if self.store.lock_model(conn, name) is None:
                raise not_found_name(name, self._names(conn))
            current = self._alias_version(conn, name, alias)
            if current is None:
                raise NotFound(f"{name} has no alias {alias!r} to roll back", name=name)
            from lathe.registry.consistency import alias_stack

            stack = alias_stack(self._alias_events(conn, name, alias))
            existing = set(
                conn.execute(sa.select(versions.c.version).where(versions.c.name == name)).scalars()
            )
            if stack and stack[-1] == current:
                stack.pop()
            while stack and stack[-1] not in existing:
                stack.pop()
            if not stack:
                raise Conflict(
                    f"{name}@{alias} has no earlier version to roll back to "
                    f"(it is {name}:{current})",
                    hint=f"promote a version instead: lathe registry promote {name} VERSION",
                )
            target = stack[-1]
            self._move_alias(conn, name, alias, target)
            self._audit(
                conn,
                "rollback",
                name,
                version=target,
                alias=alias,
                before={"version": current},
                after={"version": target},
                reason=reason,
            )
        return AliasChange(name, alias, target, current, True, reason=reason)

    @staticmethod
    def _alias_events(conn: Connection, name: str, alias: str) -> builtins.list[AuditEvent]:
        rows = conn.execute(
            sa.select(audit)
            .where(
                audit.c.name == name,
                audit.c.alias == alias,
                audit.c.action.in_(("promote", "rollback")),
            )
            .order_by(audit.c.id)
        )
        return [AuditEvent.from_row(r._mapping) for r in rows]

    # ---- delete ------------------------------------------------------------------------
    def delete(self, name: str, version: int, *, reason: str | None = None) -> ModelVersion:
        """Remove a version that no alias points at (the champion cannot be deleted)."""
        version = int(version)
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
    def manifest(self, record: ModelVersion) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._version_row(conn, record.name, record.version)
        return json.loads(row.manifest)

    def materialize(self, ref: str | ModelVersion) -> Path:
        """A verified artifact directory for a version, rebuilt from blobs when needed.

        Raises IntegrityError naming the version and file if a blob is missing or altered.
        """
        record = self.resolve(ref) if isinstance(ref, str) else ref
        with self.store.read() as conn:
            manifest_text = self._version_row(conn, record.name, record.version).manifest
        target = (
            self.blobs.root
            / "checkouts"
            / record.name
            / (f"{record.version}-{record.artifact_sha256[:12]}")
        )
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
        return target

    # ---- invariants --------------------------------------------------------------------
    def check_consistency(self, *, verify_blobs: bool = True) -> builtins.list[str]:
        """Every problem found (empty when consistent); see lathe.registry.consistency."""
        from lathe.registry.consistency import check_consistency

        return check_consistency(self, verify_blobs=verify_blobs)

    # ---- backup ------------------------------------------------------------------------
    def backup(self, file: str | os.PathLike[str]) -> Path:
        from lathe.registry.backup import backup

        return backup(self, file)

    def restore(self, file: str | os.PathLike[str]) -> dict[str, int]:
        from lathe.registry.backup import restore

        return restore(self, file)


def _source(data: Any) -> str | None:
    if data is None:
        return None
    return str(data) if not hasattr(data, "columns") else "DataFrame"


def open_registry(
    url: str | None = None, blob_root: str | os.PathLike[str] | None = None
) -> ModelRegistry:
    """Open (creating and migrating if needed) the registry at `url`.

    `url` defaults to LATHE_STORE, else sqlite:///.lathe/lathe.db; `blob_root` to
    LATHE_BLOBS, else `blobs/` next to the SQLite file (or .lathe/blobs for PostgreSQL).
    """
    return ModelRegistry(open_store(url), blob_root)
