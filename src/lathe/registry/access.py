"""Registry roles in the database: grants, the check every change and read goes through,
and the audit of every refusal.

    lathe registry grant alice promoter churn      # alice may register and promote churn
    lathe registry grant ci writer '*'             # ci may register any model
    lathe registry revoke alice churn
    lathe registry grants [NAME]

The roles and what each may do are `lathe.security.roles`. A registry without grants is
open; the first grant turns the check on and makes its author admin of `*` (both audited),
so nobody is locked out. A refused action raises Forbidden (exit 77 / HTTP 403) naming the
user, the action, the model and the grant that would allow it, and leaves one `denied`
row in the audit log (written in its own transaction, before anything else happens).

>>> import tempfile, os
>>> from lathe.registry.registry import open_registry
>>> d = tempfile.mkdtemp(); os.environ["LATHE_USER"] = "root"
>>> reg = open_registry(f"sqlite:///{d}/lathe.db")
>>> [g["role"] for g in reg.grant("alice", "reader", "churn")]
['admin', 'reader']
>>> os.environ["LATHE_USER"] = "alice"
>>> reg.authorize("promote", "churn")
Traceback (most recent call last):
lathe.errors.Forbidden: alice may not promote churn (their role there is reader; promote needs promoter). Fix: an admin of churn can run `lathe registry grant alice promoter churn`
>>> os.environ["LATHE_USER"] = "root"
>>> [(e.action, e.name) for e in reg.history()][-1]
('denied', 'churn')
>>> del os.environ["LATHE_USER"]; reg.close()
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lathe.errors import Forbidden, NotFound, UsageError
from lathe.registry.records import check_name, current_actor, utc_now
from lathe.registry.store import metadata
from lathe.security.roles import ANY_MODEL, check_role, effective_role, needed_role, role_allows

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# `registry` below is a RegistryBase (store, _audit); typed Any: _base imports this module
RegistryBase = Any

__all__ = ["grants_table", "create_grants_table", "authorize", "grant", "revoke", "list_grants",
           "readable"]

grants_table = sa.Table(
    "lathe_grants",
    metadata,
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),  # a model name or '*'
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("granted_by", sa.String(200), nullable=False),
    sa.Column("granted_at", sa.String(40), nullable=False),
    sa.PrimaryKeyConstraint("user", "name", name="lathe_grants_pk"),
)


def create_grants_table(conn: Connection, store: object) -> None:
    grants_table.create(conn, checkfirst=True)


def _rows(conn: Connection) -> builtins.list[tuple[str, str, str]]:
    query = sa.select(grants_table.c.user, grants_table.c.name, grants_table.c.role)
    return [(str(u), str(n), str(r)) for u, n, r in conn.execute(query)]


def authorize(registry: RegistryBase, action: str, name: str) -> str | None:
    """Check that the current user may do `action` to model `name`; return their role
    (None in an open registry). A refusal is audited, then raised as Forbidden."""
    with registry.store.read() as conn:
        rows = _rows(conn)
    if not rows:
        return None
    user = current_actor()
    role = effective_role(rows, user, name)
    if role_allows(role, action):
        return role
    needs = needed_role(action)
    with registry.store.write() as conn:
        registry._audit(conn, "denied", name, after={"action": action, "user": user,
                                                     "role": role, "needs": needs},
                        reason=f"{user} may not {action}")
    where = "they have no role there" if role is None else f"their role there is {role}"
    raise Forbidden(f"{user} may not {action} {name} ({where}; {action} needs {needs})",
                    hint=f"an admin of {name} can run `lathe registry grant {user} {needs} "
                    f"{name}`", user=user, action=action, model=name, role=role)


def readable(registry: RegistryBase) -> Any:
    """A predicate: may the current user read model `name`? (Always, in an open registry.)
    Listings show only what the user may read, so names and metrics do not leak."""
    with registry.store.read() as conn:
        rows = _rows(conn)
    if not rows:
        return lambda name: True
    user = current_actor()
    return lambda name: role_allows(effective_role(rows, user, name), "read")


def _check_target(name: str) -> str:
    return name if name == ANY_MODEL else check_name(name)


def grant(registry: RegistryBase, user: str, role: str, name: str) -> builtins.list[
        dict[str, Any]]:
    """Give `user` `role` on `name` (a model or '*'); the grants changed, as dicts."""
    check_role(role)
    _check_target(name)
    if not user.strip() or len(user) > 200:
        raise UsageError(f"user {user!r} is not valid", hint="pass a user name (LATHE_USER)")
    actor, now = current_actor(), utc_now()
    changed: builtins.list[dict[str, Any]] = []
    with registry.store.read() as conn:
        bootstrap = not _rows(conn)
    if not bootstrap:
        authorize(registry, "grant", name)
    with registry.store.write() as conn:
        if bootstrap and not _rows(conn):  # the first grant: its author becomes admin of *
            first = {"user": actor, "name": ANY_MODEL, "role": "admin", "granted_by": actor,
                     "granted_at": now}
            conn.execute(grants_table.insert().values(**first))
            registry._audit(conn, "grant", ANY_MODEL, after=first,
                            reason="first grant: roles are enforced from now on")
            changed.append(first)
        before = conn.execute(sa.select(grants_table.c.role).where(
            grants_table.c.user == user, grants_table.c.name == name)).scalar()
        row = {"user": user, "name": name, "role": role, "granted_by": actor, "granted_at": now}
        conn.execute(grants_table.delete().where(grants_table.c.user == user,
                                                 grants_table.c.name == name))
        conn.execute(grants_table.insert().values(**row))
        registry._audit(conn, "grant", name, before=None if before is None else {"role": before},
                        after=row)
        changed.append(row)
    return changed


def revoke(registry: RegistryBase, user: str, name: str) -> dict[str, Any]:
    """Take away `user`'s grant on `name`; the grant removed."""
    _check_target(name)
    authorize(registry, "revoke", name)
    with registry.store.write() as conn:
        found = conn.execute(sa.select(grants_table).where(
            grants_table.c.user == user, grants_table.c.name == name)).first()
        if found is None:
            raise NotFound(f"{user} has no grant on {name}",
                           hint="see `lathe registry grants` for who has what")
        conn.execute(grants_table.delete().where(grants_table.c.user == user,
                                                 grants_table.c.name == name))
        registry._audit(conn, "revoke", name, before=dict(found._mapping))
    return dict(found._mapping)


def list_grants(registry: RegistryBase, name: str | None = None) -> builtins.list[
        dict[str, Any]]:
    """Every grant (on `name` and on '*' when given), by user."""
    query = sa.select(grants_table).order_by(grants_table.c.name, grants_table.c.user)
    if name is not None:
        query = query.where(grants_table.c.name.in_([name, ANY_MODEL]))
    with registry.store.read() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
