"""Registry roles: who may do what to which model name.

Roles are ordered; each includes the ones before it::

    reader    load, list, history (resolve and check out a version)
    writer    + register a new version
    promoter  + move aliases (promote, rollback)
    admin     + delete versions, grant and revoke roles

A grant gives one user one role on one model name, or on every name with `*`. A user's role
on a name is the highest of their grants on that name and on `*`. A registry with no grants
at all is open (everyone acts as admin), as it was before roles existed; the first grant
switches enforcement on, and whoever makes it becomes admin of `*` so nobody is locked out.

Identities: LATHE_USER, else LATHE_ACTOR, else the OS user (`lathe.registry.records.
current_actor`); the server's API keys map onto the same words (see lathe.serving.auth).

>>> role_allows("promoter", "register"), role_allows("writer", "promote")
(True, False)
>>> effective_role([("alice", "churn", "writer"), ("alice", "*", "reader")], "alice", "churn")
'writer'
>>> effective_role([("alice", "*", "reader")], "bob", "churn") is None
True
"""

from __future__ import annotations

from collections.abc import Iterable

from lathe.errors import UsageError, did_you_mean

__all__ = ["ROLES", "ACTIONS", "STORE_ACTIONS", "ANY_MODEL", "role_allows", "effective_role",
           "needed_role", "check_role"]

ROLES = ("reader", "writer", "promoter", "admin")
ACTIONS = {
    "read": "reader",
    "register": "writer",
    "promote": "promoter",
    "rollback": "promoter",
    "delete": "admin",
    "grant": "admin",
    "revoke": "admin",
}
"""Each registry action and the least role that may do it."""
STORE_ACTIONS = {
    "backup": "admin",
    "restore": "admin",
    "gc": "admin",
}
"""Actions on the whole store (every model's rows and blobs): they need the role on `*`."""
ANY_MODEL = "*"


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", hint=f"{did_you_mean(role, ROLES)}; roles "
                         f"are {', '.join(ROLES)} (each includes the ones before it)")
    return role


def needed_role(action: str) -> str:
    try:
        return ACTIONS[action] if action in ACTIONS else STORE_ACTIONS[action]
    except KeyError:
        raise UsageError(f"unknown registry action {action!r}",
                         hint=did_you_mean(action, {**ACTIONS, **STORE_ACTIONS})) from None


def role_allows(role: str | None, action: str) -> bool:
    """Whether `role` (None: no role) may do `action`."""
    if role is None:
        return False
    return ROLES.index(check_role(role)) >= ROLES.index(needed_role(action))


def effective_role(grants: Iterable[tuple[str, str, str]], user: str, name: str) -> str | None:
    """The highest role `user` holds on `name` among (user, name or '*', role) grants."""
    best = -1
    for who, model, role in grants:
        if who == user and model in (name, ANY_MODEL) and role in ROLES:
            best = max(best, ROLES.index(role))
    return None if best < 0 else ROLES[best]
