"""One contract suite for every registry backend: SQLite and the real PostgreSQL server.

Each PostgreSQL test gets its own schema (dropped afterwards), so runs never collide. When
no server answers at 127.0.0.1:5432, the PostgreSQL half skips and says why.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lathe.errors import Conflict, GateFailed, IntegrityError, NotFound, UsageError
from lathe.registry import ModelRegistry, open_registry
from lathe.registry.testing import (
    champion_chain_problems,
    concurrent_writers,
    fake_artifact,
    kill_trials,
)

PG_SERVER = os.environ.get("LATHE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_down_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=2):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        return f"no PostgreSQL server answers at {PG_SERVER}: {type(exc).__name__}: {exc}"


_PG_DOWN = _postgres_down_reason()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty store URLs on the backend under test."""
    schemas: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path}/db{uuid.uuid4().hex[:8]}/lathe.db"
        schema = f"lathe_t_{uuid.uuid4().hex[:12]}"
        schemas.append(schema)
        return f"{PG_SERVER}?schema={schema}"

    if request.param == "postgresql" and _PG_DOWN:
        pytest.skip(_PG_DOWN)
    yield make
    if schemas:
        engine = sa.create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture()
def url(new_store: Callable[[], str]) -> str:
    return new_store()


@pytest.fixture()
def registry(url: str, tmp_path: Path) -> Iterator[ModelRegistry]:
    with open_registry(url, tmp_path / "blobs") as reg:
        yield reg


@pytest.fixture()
def artifact(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def make(**kwargs) -> Path:
        n = next(counter)
        return fake_artifact(tmp_path / "src" / f"a{n}", seed=kwargs.pop("seed", n), **kwargs)

    return make


def test_register_records_lineage_and_is_idempotent(registry: ModelRegistry, artifact) -> None:
    source = artifact(auc=0.81)
    first = registry.register(source, name="churn", note="weekly retrain")
    assert first.ref == "churn:1"
    assert (first.family, first.task, first.note) == ("fake", "binary", "weekly retrain")
    assert first.metrics["test"]["roc_auc"] == 0.81
    assert first.dataset_hash and first.creator and first.created_at
    assert registry.register(source, name="churn") == first  # same artifact, same version
    second = registry.register(artifact(), name="churn")
    assert second.version == 2
    assert [v.version for v in registry.list("churn")] == [1, 2]
    assert registry.get("churn", 1) == first
    assert registry.resolve("churn:2") == second
    assert [s.name for s in registry.models()] == ["churn"]


def test_versions_survive_source_deletion_and_numbers_are_never_reused(
    registry: ModelRegistry, artifact
) -> None:
    source = artifact()
    registry.register(source, name="m")
    registry.register(artifact(), name="m")
    for path in sorted(source.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    source.rmdir()
    checkout = registry.materialize("m:1")
    assert (checkout / "model" / "weights.bin").is_file()
    registry.delete("m", 2, reason="bad data")
    assert registry.register(artifact(), name="m").version == 3


def test_gate_refuses_worse_candidate_and_force_is_audited(
    registry: ModelRegistry, artifact
) -> None:
    registry.register(artifact(auc=0.85), name="m")
    registry.register(artifact(auc=0.80), name="m")
    registry.register(artifact(auc=0.849), name="m")
    assert registry.promote("m", 1).changed
    with pytest.raises(GateFailed, match=r"candidate m:2 = 0\.8000.*champion m:1 = 0\.8500"):
        registry.promote("m", 2)
    assert registry.resolve("m").version == 1
    within = registry.promote("m", 3)  # 0.001 worse: inside the default tolerance
    assert within.gate["passed"] and within.gate["metric"] == "roc_auc"
    with pytest.raises(UsageError, match="--reason"):
        registry.promote("m", 2, force=True)
    forced = registry.promote("m", 2, force=True, reason="hotfix for #42")
    assert forced.forced and forced.previous == 3
    last = registry.history("m")[-1]
    assert (last.action, last.reason, last.before, last.after["version"]) == (
        "promote",
        "hotfix for #42",
        {"version": 3},
        2,
    )
    assert last.after["gate"]["passed"] is False  # the override records what it overrode
    assert registry.promote("m", 1, alias="challenger").alias == "challenger"
    assert registry.aliases("m") == {"champion": 2, "challenger": 1}


def test_rollback_walks_back_through_previous_champions(registry: ModelRegistry, artifact) -> None:
    for _ in range(4):
        registry.register(artifact(), name="m")
    for version in (1, 2, 3, 4):
        registry.promote("m", version, force=True, reason="setup")
    assert registry.rollback("m").version == 3
    registry.delete("m", 2)  # a deleted version is skipped
    assert registry.rollback("m").version == 1
    with pytest.raises(Conflict, match="no earlier version"):
        registry.rollback("m")
    actions = [e.action for e in registry.history("m")]
    assert actions[-3:] == ["rollback", "delete", "rollback"]
    assert registry.check_consistency() == []


def test_champion_cannot_be_deleted(registry: ModelRegistry, artifact) -> None:
    registry.register(artifact(), name="m")
    registry.promote("m", 1)
    with pytest.raises(Conflict, match="m:1 is the champion"):
        registry.delete("m", 1)
    assert registry.get("m", 1).version == 1


def test_unknown_names_and_versions_suggest_close_ones(registry: ModelRegistry, artifact) -> None:
    registry.register(artifact(), name="churn")
    with pytest.raises(NotFound, match="did you mean 'churn'"):
        registry.resolve("chrun:1")
    with pytest.raises(NotFound, match=r"no version 7; did you mean churn:1"):
        registry.get("churn", 7)
    with pytest.raises(NotFound, match="has no alias 'champion'"):
        registry.resolve("churn")
    registry.promote("churn", 1, alias="challenger")
    with pytest.raises(NotFound, match="did you mean 'challenger'"):
        registry.resolve("churn@challengr")


def test_audit_log_is_append_only_in_the_database(registry: ModelRegistry, artifact) -> None:
    registry.register(artifact(), name="m")
    assert [e.action for e in registry.history("m")] == ["register"]
    for statement in (
        sa.text("UPDATE lathe_audit SET actor = 'mallory'"),
        sa.text("DELETE FROM lathe_audit"),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with registry.store.write() as conn:
                if registry.store.url.schema:
                    conn.exec_driver_sql(f"SET LOCAL search_path TO {registry.store.url.schema}")
                conn.execute(statement)
    assert registry.history("m")[0].actor != "mallory"


def test_tampered_or_missing_blob_is_refused_naming_version_and_file(
    registry: ModelRegistry, artifact
) -> None:
    record = registry.register(artifact(), name="m")
    files = registry.manifest(record)["files"]
    blob = registry.blobs.path(files["model/weights.bin"]["sha256"])
    blob.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="m:1 file model/weights.bin.*altered"):
        registry.materialize(record)
    blob.unlink()
    with pytest.raises(IntegrityError, match="m:1 file model/weights.bin.*missing"):
        registry.materialize(record)
    assert any("m:1 file model/weights.bin" in p for p in registry.check_consistency())


def test_backup_restores_the_same_versions_aliases_and_audit(
    registry: ModelRegistry, artifact, new_store: Callable[[], str], tmp_path: Path
) -> None:
    for auc in (0.7, 0.8, 0.9):
        registry.register(artifact(auc=auc), name="m", note=f"auc {auc}")
    registry.register(artifact(task="regression", auc=3.0), name="price")
    registry.promote("m", 2)
    registry.promote("m", 3)
    registry.promote("m", 1, alias="challenger")
    registry.delete("m", 2)
    file = registry.backup(tmp_path / "out.tar.gz")
    with open_registry(new_store(), tmp_path / "blobs-restored") as target:
        counts = target.restore(file)
        assert counts["versions"] == 3 and counts["aliases"] == 2
        assert target.list() == registry.list()
        assert target.aliases("m") == registry.aliases("m")
        strip = lambda events: [{**e.to_dict(), "id": None} for e in events]  # noqa: E731
        restored = target.history()
        assert restored[-1].action == "restore"
        assert strip(restored[:-1]) == strip(registry.history())
        assert target.check_consistency() == []
        assert (target.materialize("m@champion") / "model" / "weights.bin").is_file()
        with pytest.raises(Conflict, match="no earlier version"):  # m:2 was deleted
            target.rollback("m")
        with pytest.raises(Conflict, match="not empty"):
            target.restore(file)


def test_two_processes_promoting_and_registering_lose_no_update(url: str, tmp_path: Path) -> None:
    concurrent_writers(url, tmp_path / "blobs", processes=2, rounds=6)
    with open_registry(url, tmp_path / "blobs") as registry:
        records = registry.list("m")
        assert [r.version for r in records] == list(range(1, 2 + 2 * 6 + 1))
        events = registry.history("m")
        assert champion_chain_problems(events) == []
        # each writer's promotes all landed: at least its own registered versions held it
        held = {e.after["version"] for e in events if e.action == "promote"}
        assert held >= set(range(3, 2 + 2 * 6 + 1))
        assert registry.check_consistency() == []


def test_sigkill_during_writes_leaves_the_registry_consistent(url: str, tmp_path: Path) -> None:
    results = kill_trials(url, tmp_path / "blobs", trials=4, seed=7, max_delay_s=0.2)
    assert [r["problems"] for r in results] == [[]] * 4
    assert results[-1]["versions"] > 0


def test_reopening_is_cheap_and_keeps_the_schema(url: str, tmp_path: Path, artifact) -> None:
    with open_registry(url, tmp_path / "blobs") as first:
        first.register(artifact(), name="m")
    with open_registry(url, tmp_path / "blobs") as again:
        assert [v.ref for v in again.list()] == ["m:1"]
        assert json.loads(json.dumps(again.get("m", 1).to_dict()))["ref"] == "m:1"
