"""Open the registry's database by URL: connect, check it answers, migrate its schema.

Kept apart from `store` (tables, URLs, engines) so that `migrations` can build on `store`
and this module on both, without a cycle.

>>> import tempfile
>>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/lathe.db")
>>> store.dialect
'sqlite'
>>> store.dispose()
"""

from __future__ import annotations

import sqlalchemy as sa

from lathe.registry.migrations import migrate
from lathe.registry.store import Store, connect, store_unavailable

__all__ = ["open_store"]


def open_store(url: str | None = None) -> Store:
    """Connect to the store at `url` (checking it answers) and bring its schema up to date."""
    store = connect(url)
    try:
        migrate(store)
    except sa.exc.OperationalError as exc:
        store.dispose()
        raise store_unavailable(store.url, exc) from None
    except BaseException:
        store.dispose()
        raise
    return store
