"""Processes killed with SIGKILL at random points of register/promote/rollback/delete."""

from __future__ import annotations

from pathlib import Path

from lathe.registry import open_registry
from lathe.registry.testing import kill_trials


def test_ten_sigkills_leave_the_registry_consistent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lathe.db"
    results = kill_trials(url, tmp_path / "blobs", trials=10, seed=3)
    assert [r["problems"] for r in results] == [[]] * 10
    # every worker landed at least one operation before its kill: the audit log only grows
    events = [r["audit_events"] for r in results]
    assert events[0] > 0 and all(b > a for a, b in zip(events, events[1:], strict=False))
    with open_registry(url, tmp_path / "blobs") as registry:
        history = registry.history("m")
        assert {e.action for e in history} >= {"register", "promote"}
        assert registry.check_consistency() == []
