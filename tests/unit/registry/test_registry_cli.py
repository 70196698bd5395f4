"""`lathe registry ...` through Typer's runner (lathe.cli mounts it under `lathe registry`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lathe.cli.registry import app as registry_app
from lathe.errors import Conflict, GateFailed, NotFound, StoreUnavailable


@pytest.fixture()
def run(tmp_path: Path):
    runner = CliRunner()
    store = f"sqlite:///{tmp_path}/reg/lathe.db"

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(registry_app, [*args, "--store", store])
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return invoke


def test_register_prints_name_version_and_json(run, make_artifact) -> None:
    first = run("register", str(make_artifact(auc=0.8)), "--name", "churn", "--note", "weekly")
    assert first.stdout == "churn:1\n"
    second = run("register", str(make_artifact(auc=0.9)), "--name", "churn", "--json")
    payload = json.loads(second.stdout)
    assert payload["ref"] == "churn:2" and payload["metrics"]["test"]["roc_auc"] == 0.9


def test_promote_list_history_rollback_delete(run, make_artifact) -> None:
    for auc in (0.8, 0.9, 0.7):
        run("register", str(make_artifact(auc=auc)), "--name", "churn")
    run("promote", "churn", "1")
    assert json.loads(run("promote", "churn", "2", "--json").stdout)["gate"]["passed"]
    failed = run("promote", "churn", "3", ok=False)
    assert isinstance(failed.exception, GateFailed)
    assert "0.7000" in str(failed.exception) and "0.9000" in str(failed.exception)
    assert failed.exception.exit_code != 0
    run("promote", "churn", "3", "--force", "--reason", "canary")
    run("promote", "churn", "1", "--alias", "challenger")
    listed = json.loads(run("list", "churn", "--json").stdout)
    assert listed["aliases"] == {"champion": 3, "challenger": 1}
    assert [v["version"] for v in listed["versions"]] == [1, 2, 3]
    assert json.loads(run("list", "--json").stdout)["models"][0]["versions"] == 3
    run("rollback", "churn")
    refused = run("delete", "churn", "2", ok=False)
    assert isinstance(refused.exception, Conflict)
    run("delete", "churn", "3")
    events = json.loads(run("history", "churn", "--json").stdout)["events"]
    assert [e["action"] for e in events][-4:] == ["promote", "promote", "rollback", "delete"]
    forced = next(e for e in events if e["reason"] == "canary")
    assert forced["after"]["forced"] is True
    assert run("history", "churn").exit_code == 0  # human table on stderr
    assert run("list", "churn").exit_code == 0


def test_backup_and_restore_commands(run, make_artifact, tmp_path: Path) -> None:
    run("register", str(make_artifact()), "--name", "m")
    run("backup", str(tmp_path / "b.tar.gz"))
    runner = CliRunner()
    other = f"sqlite:///{tmp_path}/other/lathe.db"
    restored = runner.invoke(
        registry_app, ["restore", str(tmp_path / "b.tar.gz"), "--store", other]
    )
    assert restored.exit_code == 0, restored.exception
    listed = runner.invoke(registry_app, ["list", "m", "--json", "--store", other])
    assert json.loads(listed.stdout)["versions"][0]["ref"] == "m:1"


def test_errors_are_lathe_errors_with_exit_codes(run, make_artifact) -> None:
    run("register", str(make_artifact()), "--name", "churn")
    missing = run("promote", "chrun", "1", ok=False)
    assert isinstance(missing.exception, NotFound) and "did you mean 'churn'" in str(
        missing.exception
    )
    result = CliRunner().invoke(
        registry_app, ["list", "--store", "postgresql://postgres@127.0.0.1:1/test"]
    )
    assert isinstance(result.exception, StoreUnavailable)
    assert "127.0.0.1:1" in str(result.exception)
