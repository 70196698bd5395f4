"""Invariants of a registry, checked after crashes and in tests.

A registry is consistent when: every alias points at an existing version; every version's
blobs are present and intact; the audit log replays to the current state (registered minus
deleted versions are exactly the versions; the last move of each alias is where it points);
version counters are ahead of every version; and (SQLite) the file passes integrity_check.

>>> e = lambda action, v: AuditEvent(0, "", "", action, "m", v, "champion", None,
...                                  {"version": v}, None)
>>> alias_stack([e("promote", 1), e("promote", 2), e("promote", 3), e("rollback", 2)])
[1, 2]
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sqlalchemy as sa

from lathe.registry.records import AuditEvent
from lathe.registry.store import aliases, audit, models, versions

if TYPE_CHECKING:
    from lathe.registry._base import RegistryBase

__all__ = ["check_consistency", "alias_stack"]


def check_consistency(registry: RegistryBase, *, verify_blobs: bool = True) -> list[str]:
    """Every problem found, one line each (empty when consistent)."""
    problems: list[str] = []
    with registry.store.read() as conn:
        if registry.store.dialect == "sqlite":
            result = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
            if result != "ok":
                problems.append(f"sqlite integrity_check: {result}")
        rows = conn.execute(sa.select(versions)).all()
        live = {(r.name, r.version) for r in rows}
        counters = dict(conn.execute(sa.select(models.c.name, models.c.next_version)).all())
        pointers = conn.execute(sa.select(aliases)).all()
        events = [
            AuditEvent.from_row(r._mapping)
            for r in conn.execute(sa.select(audit).order_by(audit.c.id))
        ]
    for row in rows:
        if counters.get(row.name, 0) <= row.version:
            problems.append(f"{row.name}: next_version {counters.get(row.name)} <= {row.version}")
        for rel, meta in json.loads(row.manifest).get("files", {}).items():
            ok = (
                registry.blobs.is_intact(meta["sha256"])
                if verify_blobs
                else registry.blobs.has(meta["sha256"])
            )
            if not ok:
                problems.append(f"{row.name}:{row.version} file {rel}: blob missing or altered")
    registered = {(e.name, e.version) for e in events if e.action == "register"}
    deleted = {(e.name, e.version) for e in events if e.action == "delete"}
    if registered - deleted != live:
        problems.append(
            f"audit disagrees with versions: audit-only {sorted(registered - deleted - live)}"
            f", versions-only {sorted(live - (registered - deleted))}"
        )
    last: dict[tuple[str, str], int] = {}
    for event in events:
        if event.action in ("promote", "rollback") and event.name and event.alias:
            last[(event.name, event.alias)] = event.after["version"]
    state = {(p.name, p.alias): p.version for p in pointers}
    for key, version in state.items():
        if key not in last:
            problems.append(f"{key[0]}@{key[1]} has no audit row")
        elif last[key] != version:
            problems.append(f"{key[0]}@{key[1]} is {version}; the audit says {last[key]}")
        if (key[0], version) not in live:
            problems.append(f"{key[0]}@{key[1]} points at missing version {version}")
    for key in set(last) - set(state):
        problems.append(f"audit moved {key[0]}@{key[1]} but the alias does not exist")
    return problems


def alias_stack(events: list[AuditEvent]) -> list[int]:
    """Replay promote/rollback events into the stack of holders (top = current)."""
    stack: list[int] = []
    for event in events:
        target = event.after["version"]
        if event.action == "promote":
            stack.append(target)
        else:
            while stack and stack[-1] != target:
                stack.pop()
            if not stack:
                stack.append(target)
    return stack
