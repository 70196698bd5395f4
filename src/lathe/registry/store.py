"""The registry's database: SQLAlchemy Core tables and an engine opened from a URL.

URLs (like `optuna.storages.get_storage`)::

    sqlite:///.lathe/lathe.db                 the embedded default (LATHE_STORE overrides it)
    postgresql://user@host:5432/db            plain, postgres:// and +psycopg2 URLs all map to
    postgresql+psycopg://user@host:5432/db    psycopg 3, the driver lathe installs
    postgresql://...?schema=team_a            lathe-only query parameter: keep the tables in a
                                              PostgreSQL schema (created if missing)

Transactions that write take the lock that serialises them *before* they read: on SQLite
the transaction starts with `BEGIN IMMEDIATE` (one writer at a time, readers never blocked
in WAL mode); on PostgreSQL the model's row in `lathe_models` is read `FOR UPDATE`. Every
read-modify-write therefore sees the latest committed state, so no update is lost.

>>> url = parse_store_url("postgres://me@db:5433/reg?schema=ml")
>>> url.sqlalchemy_url.drivername, url.schema, url.host, url.port
('postgresql+psycopg', 'ml', 'db', 5433)
>>> parse_store_url("sqlite:///.lathe/lathe.db").sqlite_path.name
'lathe.db'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from lathe.errors import ConfigError, StoreUnavailable

__all__ = [
    "DEFAULT_STORE",
    "StoreURL",
    "parse_store_url",
    "default_store_url",
    "metadata",
    "models",
    "versions",
    "aliases",
    "audit",
    "schema_version",
    "Store",
    "connect",
    "store_unavailable",
]

DEFAULT_STORE = "sqlite:///.lathe/lathe.db"
CONNECT_TIMEOUT_S = int(os.environ.get("LATHE_STORE_TIMEOUT", "5"))
SQLITE_BUSY_TIMEOUT_S = 60

metadata = sa.MetaData()

# One row per model name; the row PostgreSQL locks to serialise changes to that model,
# and the counter that keeps version numbers unique even after a version is deleted.
models = sa.Table(
    "lathe_models",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("next_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

versions = sa.Table(
    "lathe_versions",
    metadata,
    sa.Column("name", sa.String(200), sa.ForeignKey("lathe_models.name"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("family", sa.String(100)),
    sa.Column("task", sa.String(40)),
    sa.Column("primary_metric", sa.String(60)),
    sa.Column("metrics", sa.Text, nullable=False),  # JSON: the manifest's metrics section
    sa.Column("config", sa.Text, nullable=False),  # JSON: the resolved training config
    sa.Column("dataset_hash", sa.String(100)),
    sa.Column("parent", sa.String(500)),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("creator", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("manifest", sa.Text, nullable=False),  # the artifact's manifest.json, verbatim
    sa.PrimaryKeyConstraint("name", "version", name="lathe_versions_pk"),
    sa.UniqueConstraint("name", "artifact_sha256", name="lathe_versions_artifact_uq"),
)

aliases = sa.Table(
    "lathe_aliases",
    metadata,
    sa.Column("name", sa.String(200), sa.ForeignKey("lathe_models.name"), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.PrimaryKeyConstraint("name", "alias", name="lathe_aliases_pk"),
    sa.ForeignKeyConstraint(
        ["name", "version"],
        ["lathe_versions.name", "lathe_versions.version"],
        name="lathe_aliases_version_fk",
    ),
)

# Append-only: migration 2 installs triggers that refuse UPDATE and DELETE on this table.
audit = sa.Table(
    "lathe_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("version", sa.Integer),
    sa.Column("alias", sa.String(100)),
    sa.Column("before", sa.Text),  # JSON or NULL
    sa.Column("after", sa.Text),  # JSON or NULL
    sa.Column("reason", sa.Text),
    sa.Index("lathe_audit_name_idx", "name", "id"),
)

schema_version = sa.Table(
    "lathe_schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class StoreURL:
    """A validated store URL: what SQLAlchemy connects to, plus lathe's own options."""

    given: str
    sqlalchemy_url: URL
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return self.sqlalchemy_url.get_backend_name()

    @property
    def host(self) -> str | None:
        return self.sqlalchemy_url.host

    @property
    def port(self) -> int | None:
        if self.dialect == "postgresql":
            return self.sqlalchemy_url.port or 5432
        return self.sqlalchemy_url.port

    @property
    def sqlite_path(self) -> Path:
        return Path(self.sqlalchemy_url.database or "")

    def redacted(self) -> str:
        return self.sqlalchemy_url.render_as_string(hide_password=True)


def default_store_url() -> str:
    return os.environ.get("LATHE_STORE") or DEFAULT_STORE


def parse_store_url(url: str | None = None) -> StoreURL:
    """Validate a store URL (None: LATHE_STORE or the default); raise ConfigError if bad."""
    given = url or default_store_url()
    hint = "use sqlite:///path/to/lathe.db or postgresql://user@host:5432/database"
    try:
        parsed = make_url(given)
    except Exception:  # noqa: BLE001 - SQLAlchemy raises several types for malformed URLs
        raise ConfigError(f"store URL {given!r} is not a valid URL", hint=hint) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise ConfigError(f"store URL {given!r}: unsupported SQLite driver", hint=hint)
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                f"store URL {given!r} has no database file",
                hint="give a file path, e.g. sqlite:///.lathe/lathe.db",
            )
        return StoreURL(given, parsed.set(drivername="sqlite"))
    if backend in ("postgresql", "postgres"):
        query = dict(parsed.query)
        schema = query.pop("schema", None)
        if isinstance(schema, tuple):
            schema = schema[-1]
        if not parsed.database:
            raise ConfigError(f"store URL {given!r} names no database", hint=hint)
        if schema is not None and not schema.replace("_", "").isalnum():
            raise ConfigError(
                f"store URL {given!r}: schema {schema!r} must be letters, digits and _",
                hint="e.g. ?schema=lathe_registry",
            )
        clean = parsed.set(drivername="postgresql+psycopg", query=query)
        return StoreURL(given, clean, schema)
    raise ConfigError(
        f"store URL {given!r}: unsupported database {parsed.drivername!r} "
        "(lathe supports sqlite and postgresql)",
        hint=hint,
    )


def store_unavailable(url: StoreURL, exc: BaseException) -> StoreUnavailable:
    reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
    if url.dialect == "sqlite":
        return StoreUnavailable(
            f"cannot open the SQLite registry {url.sqlite_path}: {reason}",
            hint="check the path and its permissions",
            path=str(url.sqlite_path),
        )
    return StoreUnavailable(
        f"cannot reach the PostgreSQL registry at {url.host}:{url.port} "
        f"(database {url.sqlalchemy_url.database!r}): {reason}",
        hint="start the server, or check host, port, user and --store / LATHE_STORE",
        host=url.host,
        port=url.port,
    )


def _sqlite_engine(url: StoreURL) -> Engine:
    path = url.sqlite_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise store_unavailable(url, exc) from None
    engine = sa.create_engine(
        url.sqlalchemy_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # WAL: readers never wait for the writer; FULL sync: a commit is on disk before
        # it returns; foreign keys are off by default in SQLite.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # pysqlite's own transaction handling is off (isolation_level=None), so lathe
        # says when a transaction starts and whether it takes the write lock up front.
        write = conn.get_execution_options().get("lathe_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: StoreURL) -> Engine:
    engine = sa.create_engine(
        url.sqlalchemy_url,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        pool_pre_ping=True,
    )
    if url.schema:
        engine = engine.execution_options(schema_translate_map={None: url.schema})
    return engine


class Store:
    """An engine plus the transaction helpers the registry needs.

    Thread safety: a Store may be shared by threads (SQLAlchemy pools connections); after a
    fork, open a new one in the child.
    """

    def __init__(self, url: StoreURL, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.url.dialect

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on PostgreSQL)."""
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise store_unavailable(self.url, exc) from None
        with conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A writing transaction; SQLite takes the database write lock at BEGIN."""
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise store_unavailable(self.url, exc) from None
        with conn:
            conn = conn.execution_options(lathe_write=True)
            with conn.begin():
                yield conn

    def lock_model(self, conn: Connection, name: str, *, create_at: str | None = None) -> Any:
        """Lock (and optionally create) the model row; returns it, or None if absent."""
        if create_at is not None:
            from sqlalchemy.dialects import postgresql, sqlite

            insert: Any = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
            conn.execute(
                insert(models)
                .values(name=name, next_version=1, created_at=create_at)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        query = sa.select(models).where(models.c.name == name)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).first()

    def dispose(self) -> None:
        self.engine.dispose()


def connect(url: str | None = None) -> Store:
    """A Store on the engine for `url`, as it is (`lathe.registry.connect.open_store` also
    brings its schema up to date: use that)."""
    parsed = parse_store_url(url)
    engine = _sqlite_engine(parsed) if parsed.dialect == "sqlite" else _postgres_engine(parsed)
    return Store(parsed, engine)
