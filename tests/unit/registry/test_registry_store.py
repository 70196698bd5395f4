from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lathe.errors import ConfigError, StoreUnavailable
from lathe.registry import open_registry
from lathe.registry.migrations import MIGRATIONS, migrate
from lathe.registry.store import DEFAULT_STORE, Store, _sqlite_engine, parse_store_url


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x/lathe.db", "sqlite"),
    ],
)
def test_urls_map_to_supported_drivers(given: str, driver: str) -> None:
    assert parse_store_url(given).sqlalchemy_url.drivername == driver


def test_default_url_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATHE_STORE", raising=False)
    assert parse_store_url().given == DEFAULT_STORE
    monkeypatch.setenv("LATHE_STORE", "sqlite:///elsewhere.db")
    assert parse_store_url().sqlite_path == Path("elsewhere.db")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database"),
        ("not a url", "not a valid URL"),
        ("sqlite://", "no database file"),
        ("postgresql://u@h", "names no database"),
        ("postgresql://u@h/db?schema=a;drop", "schema"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_registry(url)


def test_unreachable_postgres_names_host_and_port() -> None:
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1\b") as err:
        open_registry("postgresql://postgres@127.0.0.1:1/test")
    assert err.value.details == {"host": "127.0.0.1", "port": 1}
    assert err.value.exit_code == 69


def test_unopenable_sqlite_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable, match="SQLite registry"):
        open_registry(f"sqlite:///{blocker}/sub/lathe.db")


def test_migrations_upgrade_an_old_database_and_refuse_a_newer_one(tmp_path: Path) -> None:
    url = parse_store_url(f"sqlite:///{tmp_path}/lathe.db")
    store = Store(url, _sqlite_engine(url))
    assert migrate(store, target=1) == 1  # a database written by the first schema
    store.dispose()
    with closing(sqlite3.connect(tmp_path / "lathe.db")) as raw, raw:
        triggers = raw.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall()
    assert triggers == []
    open_registry(url.given).close()  # opening upgrades it
    with closing(sqlite3.connect(tmp_path / "lathe.db")) as raw, raw:
        applied = [v for (v,) in raw.execute("SELECT version FROM lathe_schema_version")]
        triggers = raw.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall()
        assert applied == list(range(1, len(MIGRATIONS) + 1))
        assert len(triggers) == 2
        raw.execute("INSERT INTO lathe_schema_version VALUES (99, 'future')")
    with pytest.raises(ConfigError, match="newer than this lathe"):
        open_registry(url.given)
