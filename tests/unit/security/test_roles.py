"""Registry roles: every (role, action) pair tried both ways against a real registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lathe.errors import Forbidden
from lathe.registry import ModelRegistry, open_registry
from lathe.registry.testing import fake_artifact
from lathe.security.roles import ACTIONS, ROLES, role_allows


@pytest.fixture()
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """churn:1 (champion) and churn:2, registered while the registry was open; then roles
    are switched on by root's first grant."""
    monkeypatch.setenv("LATHE_USER", "root")
    with open_registry(f"sqlite:///{tmp_path}/lathe.db") as registry:
        for seed in (1, 2):
            registry.register(fake_artifact(tmp_path / f"a{seed}", seed=seed, auc=0.7 + seed / 10),
                              name="churn")
        registry.promote("churn", 1)
        registry.promote("churn", 2)
        fake_artifact(tmp_path / "a3", seed=3, auc=0.95)
        registry.grant("root", "admin", "*")
        yield registry


def _act(registry: ModelRegistry, tmp_path: Path) -> dict[str, Callable[[], Any]]:
    """One real call per action (churn:2 is the champion, churn:1 is held by no alias)."""
    return {
        "read": lambda: registry.materialize("churn:2"),
        "register": lambda: registry.register(tmp_path / "a3", name="churn"),
        "promote": lambda: registry.promote("churn", 1, alias="staging"),
        "rollback": lambda: registry.rollback("churn"),
        "delete": lambda: registry.delete("churn", 1, reason="test"),
        "grant": lambda: registry.grant("carol", "reader", "churn"),
        "revoke": lambda: registry.revoke("carol0", "churn"),
    }


CASES = [(role, action) for role in (None, *ROLES) for action in ACTIONS]


@pytest.mark.parametrize("role, action", CASES)
def test_role_action_table(reg, tmp_path, monkeypatch, role, action):
    if role is not None:
        reg.grant("alice", role, "churn")
    reg.grant("carol0", "reader", "churn")  # something to revoke
    reg.grant("alice", "admin", "other-model")  # a role elsewhere gives nothing here
    monkeypatch.setenv("LATHE_USER", "alice")
    act = _act(reg, tmp_path)[action]
    if role_allows(role, action):
        act()  # allowed: no error
    else:
        with pytest.raises(Forbidden) as caught:
            act()
        assert caught.value.exit_code == 77 and caught.value.http_status == 403
        assert f"alice may not {action} churn" in str(caught.value)
        monkeypatch.setenv("LATHE_USER", "root")
        last = reg.history()[-1]
        assert (last.action, last.actor, last.name) == ("denied", "alice", "churn")


@pytest.mark.parametrize("action", ["backup", "gc", "restore"])
def test_store_wide_actions_need_admin_of_every_model(reg, tmp_path, monkeypatch, action):
    """backup, restore and gc touch every model's rows and blobs: admin of one model is not
    enough; admin of '*' is."""
    from lathe.registry.gc import collect_garbage

    reg.grant("alice", "admin", "churn")
    calls = {"backup": lambda: reg.backup(tmp_path / "b.tar"),
             "gc": lambda: collect_garbage(reg, dry_run=True),
             "restore": lambda: reg.restore(tmp_path / "b.tar")}
    monkeypatch.setenv("LATHE_USER", "alice")
    with pytest.raises(Forbidden, match=rf"alice may not {action} \* .*needs admin"):
        calls[action]()
    monkeypatch.setenv("LATHE_USER", "root")
    assert (reg.history()[-1].action, reg.history()[-1].actor) == ("denied", "alice")
    if action != "restore":  # restore wants an empty store; root passes the role check here
        calls[action]()
    reg.grant("alice", "admin", "*")
    monkeypatch.setenv("LATHE_USER", "alice")
    if action == "backup":
        assert calls["backup"]().exists()


def test_table_is_complete_and_ordered():
    assert len(CASES) == 5 * 7
    allowed = {(r, a) for r, a in CASES if role_allows(r, a)}
    assert ("reader", "read") in allowed and ("reader", "register") not in allowed
    assert ("writer", "register") in allowed and ("writer", "promote") not in allowed
    assert ("promoter", "rollback") in allowed and ("promoter", "delete") not in allowed
    assert all((("admin", a) in allowed) for a in ACTIONS)
    assert not any(r is None for r, _ in allowed)


def test_open_registry_until_the_first_grant(tmp_path, monkeypatch):
    monkeypatch.setenv("LATHE_USER", "anyone")
    with open_registry(f"sqlite:///{tmp_path}/lathe.db") as registry:
        registry.register(fake_artifact(tmp_path / "a", seed=1), name="churn")
        made = registry.grant("bob", "reader", "churn")
        assert [(g["user"], g["role"], g["name"]) for g in made] == [
            ("anyone", "admin", "*"), ("bob", "reader", "churn")]
        monkeypatch.setenv("LATHE_USER", "mallory")
        with pytest.raises(Forbidden, match="mallory may not register churn"):
            registry.register(fake_artifact(tmp_path / "b", seed=2), name="churn")
        with pytest.raises(Forbidden):
            registry.grant("mallory", "admin", "*")
        monkeypatch.setenv("LATHE_USER", "anyone")
        assert len(registry.list("churn")) == 1  # nothing changed


def test_cli_grant_and_refusal_line(tmp_path, monkeypatch, capsys):
    from lathe.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATHE_USER", "root")
    fake_artifact(tmp_path / "m", seed=5)
    assert main(["registry", "register", "m", "--name", "churn"]) == 0
    assert main(["registry", "grant", "alice", "promoter", "churn"]) == 0
    monkeypatch.setenv("LATHE_USER", "bob")
    capsys.readouterr()
    assert main(["registry", "promote", "churn", "1"]) == 77
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bob may not promote churn" in err
    assert "lathe registry grant bob promoter churn" in err
    monkeypatch.setenv("LATHE_USER", "alice")
    assert main(["registry", "promote", "churn", "1", "--json"]) == 0
    assert main(["registry", "grants", "--json"]) in (0, 77)


def test_listings_show_only_what_the_user_may_read(tmp_path, monkeypatch):
    monkeypatch.setenv("LATHE_USER", "root")
    with open_registry(f"sqlite:///{tmp_path}/lathe.db") as registry:
        registry.register(fake_artifact(tmp_path / "a", seed=1), name="churn")
        registry.register(fake_artifact(tmp_path / "b", seed=2), name="fraud")
        registry.grant("alice", "reader", "churn")
        monkeypatch.setenv("LATHE_USER", "alice")
        assert [m.name for m in registry.models()] == ["churn"]
        assert {v.name for v in registry.list()} == {"churn"}
        with pytest.raises(Forbidden, match="alice may not read fraud"):
            registry.list("fraud")
