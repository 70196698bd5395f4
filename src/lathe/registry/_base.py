"""The registry's base: store and blob folder, the audit writer and every read.

Split from registry.py by idea: reads here, alias moves in promotion.py, writes of
versions and artifacts in registry.py. Use `lathe.registry.open_registry`.

>>> CHAMPION
'champion'
"""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lathe.errors import NotFound
from lathe.registry.blobs import BlobStore
from lathe.registry.records import (
    AuditEvent,
    ModelSummary,
    ModelVersion,
    current_actor,
    not_found_name,
    not_found_version,
    parse_ref,
    utc_now,
)
from lathe.registry.store import Store, aliases, audit, models, versions

__all__ = ["RegistryBase", "CHAMPION", "default_blob_root"]

CHAMPION = "champion"
_SUMMARY_COLUMNS = [c for c in versions.c if c.name != "manifest"]


def default_blob_root(store: Store) -> Path:
    """LATHE_BLOBS, else `blobs/` next to a SQLite file, else `.lathe/blobs`."""
    if os.environ.get("LATHE_BLOBS"):
        return Path(os.environ["LATHE_BLOBS"])
    if store.dialect == "sqlite":
        return store.url.sqlite_path.parent / "blobs"
    return Path(".lathe") / "blobs"


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


class RegistryBase:
    """The registry's store and blobs, its audit row writer and every read.

    `ModelRegistry` (registry.py) adds register/delete/materialize on top of
    `RegistryPromotion` (promotion.py), which adds the alias moves.

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

    def __enter__(self) -> Self:
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

    # ---- roles (lathe.registry.access) ---------------------------------------------------
    def authorize(self, action: str, name: str) -> str | None:
        """Refuse (Forbidden, audited) unless the current user may do `action` to `name`."""
        from lathe.registry.access import authorize

        return authorize(self, action, name)

    def grant(self, user: str, role: str, name: str) -> builtins.list[dict[str, Any]]:
        """Give `user` `role` (reader, writer, promoter, admin) on `name` or '*'."""
        from lathe.registry.access import grant

        return grant(self, user, role, name)

    def revoke(self, user: str, name: str) -> dict[str, Any]:
        from lathe.registry.access import revoke

        return revoke(self, user, name)

    def grants(self, name: str | None = None) -> builtins.list[dict[str, Any]]:
        from lathe.registry.access import list_grants

        return list_grants(self, name)

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
        """Every version of `name` (or of every model the user may read), oldest first."""
        from lathe.registry.access import readable

        if name is not None:
            self.authorize("read", name)
        query = sa.select(*_SUMMARY_COLUMNS).order_by(versions.c.name, versions.c.version)
        may_read = readable(self)
        with self.store.read() as conn:
            if name is not None:
                self._require_model(conn, name)
                query = query.where(versions.c.name == name)
            return [ModelVersion.from_row(row._mapping) for row in conn.execute(query)
                    if may_read(row.name)]

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
        from lathe.registry.access import readable

        may_read = readable(self)  # only the models the user may read
        return [ModelSummary(n, int(c), m, pointers.get(n, {})) for n, c, m in counts
                if may_read(n)]

    def history(self, name: str | None = None) -> builtins.list[AuditEvent]:
        """The audit log (of one model, or all of it), oldest first."""
        self.authorize("read", name or "*")
        query = sa.select(audit).order_by(audit.c.id)
        with self.store.read() as conn:
            if name is not None:
                self._require_model(conn, name)
                query = query.where(audit.c.name == name)
            return [AuditEvent.from_row(row._mapping) for row in conn.execute(query)]

    # ---- artifacts ---------------------------------------------------------------------
    def manifest(self, record: ModelVersion) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._version_row(conn, record.name, record.version)
        return json.loads(row.manifest)
