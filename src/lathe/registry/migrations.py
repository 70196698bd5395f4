"""Versioned schema migrations for the registry database.

Why not Alembic: the registry is opened by URL from library code, CLI and tests, on SQLite
files and PostgreSQL schemas alike, and must upgrade itself on open. Alembic would bring an
`env.py`, a script directory and an ini file into the package for what is a short ordered
list of DDL steps. Instead, `lathe_schema_version` records every applied step, and
`migrate` applies the missing ones in order inside one locked transaction (DDL is
transactional on both databases), so two processes opening a new store at once cannot
both apply a step, and a crash mid-migration leaves the previous version intact.

Rules for new steps: append a function to MIGRATIONS (never edit or reorder old ones);
it receives the open connection and the Store. A database whose version is newer than
the last step here was written by a newer lathe and is refused.

>>> len(MIGRATIONS) >= 2
True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lathe.errors import ConfigError
from lathe.registry import store as tables

if TYPE_CHECKING:
    from lathe.registry.store import Store

__all__ = ["MIGRATIONS", "current_version", "migrate"]


def _create_tables(conn: Connection, store: Store) -> None:
    tables.metadata.create_all(
        conn, tables=[tables.models, tables.versions, tables.aliases, tables.audit]
    )


def _audit_append_only(conn: Connection, store: Store) -> None:
    """Refuse UPDATE and DELETE on the audit table in the database itself."""
    message = "the lathe audit log is append-only"
    if store.dialect == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS lathe_audit_no_{op.lower()} BEFORE {op} "
                f"ON lathe_audit BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    prefix = f'"{store.url.schema}".' if store.url.schema else ""
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {prefix}lathe_audit_append_only() RETURNS trigger "
        f"AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$ LANGUAGE plpgsql"
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER lathe_audit_no_change BEFORE UPDATE OR DELETE ON {prefix}lathe_audit "
        f"FOR EACH ROW EXECUTE FUNCTION {prefix}lathe_audit_append_only()"
    )


def _create_experiments(conn: Connection, store: Store) -> None:
    from lathe.registry.experiments_table import create_experiments_table

    create_experiments_table(conn, store)


def _create_grants(conn: Connection, store: Store) -> None:
    from lathe.registry.access import create_grants_table

    create_grants_table(conn, store)


MIGRATIONS: list[Callable[[Connection, Store], None]] = [
    _create_tables,
    _audit_append_only,
    _create_experiments,
    _create_grants,
]


def current_version(conn: Connection) -> int:
    found = conn.execute(sa.select(sa.func.max(tables.schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(store: Store, *, target: int | None = None) -> int:
    """Apply the missing steps up to `target` (default: all); return the schema version."""
    goal = len(MIGRATIONS) if target is None else target
    with store.write() as conn:
        if store.dialect == "postgresql":
            if store.url.schema:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{store.url.schema}"')
            # Serialise concurrent first opens: CREATE TABLE IF NOT EXISTS races otherwise.
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"lathe-registry-migrate:{store.url.schema or ''}"},
            )
        tables.schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"the registry at {store.url.redacted()} has schema version {version}, newer "
                f"than this lathe understands ({len(MIGRATIONS)})",
                hint="upgrade lathe (pip install -U lathe)",
            )
        for number in range(version + 1, goal + 1):
            MIGRATIONS[number - 1](conn, store)
            conn.execute(
                tables.schema_version.insert().values(
                    version=number, applied_at=datetime.now(UTC).isoformat()
                )
            )
        return max(version, goal)
