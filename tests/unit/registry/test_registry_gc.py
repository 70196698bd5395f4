"""`registry gc`: blobs a killed register or a delete left are found and removed; nothing a
version needs is touched; versions that lost their blobs are reported."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from lathe.cli import main
from lathe.registry import open_registry
from lathe.registry.gc import collect_garbage
from lathe.registry.testing import fake_artifact, kill_trials

HOUR = 3600.0


def _register_until_commit(url: str, blobs: str, artifact: str, at_commit: object) -> None:
    """Register, but stop dead at the transaction that would insert the version row."""
    registry = open_registry(url, blobs)

    def blocked(*_: object, **__: object) -> None:
        at_commit.set()  # type: ignore[attr-defined]
        time.sleep(600)

    registry.store.write = blocked  # type: ignore[method-assign]
    registry.register(artifact, name="m")


def _blob_names(root: Path) -> set[str]:
    return {p.name for p in (root / "sha256").glob("*/*")}


def _referenced(registry) -> set[str]:
    out = set()
    for record in registry.list("m"):
        manifest = json.loads((registry.materialize(record) / "manifest.json").read_text())
        out |= {meta["sha256"] for meta in manifest["files"].values()}
    return out


def test_register_killed_before_its_commit_leaves_an_orphan_gc_removes(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path}/lathe.db", tmp_path / "blobs"
    with open_registry(url, blobs) as registry:
        registry.register(fake_artifact(tmp_path / "a1", seed=1), name="m")
        registry.promote("m", 1, force=True, reason="first")
    before = _blob_names(blobs)
    context = multiprocessing.get_context("fork")
    at_commit = context.Event()
    worker = context.Process(target=_register_until_commit, args=(
        url, str(blobs), str(fake_artifact(tmp_path / "a2", seed=2)), at_commit))
    worker.start()
    assert at_commit.wait(60)
    os.kill(worker.pid or 0, signal.SIGKILL)  # a real kill, between the blobs and the row
    worker.join()
    orphans = _blob_names(blobs) - before
    assert len(orphans) == 1  # a2's weights; its shared file was already stored

    with open_registry(url, blobs) as registry:
        assert registry.check_consistency() == []  # the kill broke nothing visible...
        young = collect_garbage(registry)  # ...and a fresh orphan may be a register under way
        assert young["orphan_blobs"] == [] and young["kept_young"] == 1
        dry = collect_garbage(registry, dry_run=True, min_age_s=0)
        assert {o["sha256"] for o in dry["orphan_blobs"]} == orphans
        assert dry["removed"] is False and _blob_names(blobs) - before == orphans
        done = collect_garbage(registry, min_age_s=0)
        assert done["bytes_freed"] == 2048 and done["missing_blobs"] == []
        assert _blob_names(blobs) == before
        assert registry.check_consistency() == []
        assert registry.register(tmp_path / "a2", name="m").ref == "m:2"  # stores it again


def test_random_kills_then_gc_leaves_exactly_the_referenced_blobs(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path}/lathe.db", tmp_path / "blobs"
    results = kill_trials(url, blobs, trials=8, seed=19)
    assert all(r["problems"] == [] for r in results)
    with open_registry(url, blobs) as registry:
        report = collect_garbage(registry, min_age_s=0)
        assert report["missing_blobs"] == [] and report["dangling_aliases"] == []
        assert not list((blobs / "tmp").glob("*.part"))
        assert _blob_names(blobs) == _referenced(registry)
        assert registry.check_consistency() == []
        again = collect_garbage(registry, min_age_s=0)
        assert again["orphan_blobs"] == [] and again["bytes_freed"] == 0


def test_deleted_versions_blobs_and_checkouts_go_shared_ones_stay(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path}/lathe.db", tmp_path / "blobs"
    with open_registry(url, blobs) as registry:
        for seed in (1, 2):
            registry.register(fake_artifact(tmp_path / f"a{seed}", seed=seed), name="m")
        registry.promote("m", 1, force=True, reason="x")
        checkout = registry.materialize("m:2")
        registry.delete("m", 2, reason="bad")
        report = collect_garbage(registry, min_age_s=0)
        assert len(report["orphan_blobs"]) == 1  # v2's weights; shared.txt is v1's too
        assert report["stale_checkouts"][0]["path"] == str(checkout) and not checkout.exists()
        assert registry.materialize("m:1").is_dir() and registry.check_consistency() == []


def test_reusing_an_old_unreferenced_blob_makes_it_young(tmp_path: Path) -> None:
    url, blobs = f"sqlite:///{tmp_path}/lathe.db", tmp_path / "blobs"
    artifact = fake_artifact(tmp_path / "a", seed=5)
    with open_registry(url, blobs) as registry:
        weights = json.loads((artifact / "manifest.json").read_text())["files"]["model/weights.bin"]
        digest = registry.blobs.put(artifact / "model" / "weights.bin")
        path = registry.blobs.path(digest)
        os.utime(path, (time.time() - 2 * HOUR,) * 2)  # orphaned two hours ago
        assert digest == weights["sha256"]
        # a register reuses it (put sees it intact) and is about to commit: gc must keep it
        registry.blobs.put(artifact / "model" / "weights.bin", digest)
        assert collect_garbage(registry)["orphan_blobs"] == []
        os.utime(path, (time.time() - 2 * HOUR,) * 2)
        assert [o["sha256"] for o in collect_garbage(registry)["orphan_blobs"]] == [digest]


def test_versions_that_lost_their_blobs_are_reported_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, blobs = f"sqlite:///{tmp_path}/lathe.db", tmp_path / "blobs"
    os.environ["LATHE_BLOBS"] = str(blobs)
    try:
        with open_registry(url, blobs) as registry:
            record = registry.register(fake_artifact(tmp_path / "a", seed=7), name="m")
            stray = registry.blobs.put(Path(__file__))
            os.utime(registry.blobs.path(stray), (time.time() - 2 * HOUR,) * 2)
        assert main(["registry", "gc", "--dry-run", "--json", "--store", url]) == 0
        report = json.loads(capsys.readouterr().out)
        assert [o["sha256"] for o in report["orphan_blobs"]] == [stray]
        assert report["removed"] is False and (blobs / "sha256" / stray[:2] / stray).exists()

        weights = json.loads((tmp_path / "a" / "manifest.json").read_text())["files"]
        lost = weights["model/weights.bin"]["sha256"]
        (blobs / "sha256" / lost[:2] / lost).unlink()
        code = main(["registry", "gc", "--store", url])
        err = capsys.readouterr().err
        assert code == 65
        assert "removed 1 orphan blob(s)" in err
        assert f"{record.ref} file model/weights.bin: blob {lost[:12]}… is missing" in err
    finally:
        del os.environ["LATHE_BLOBS"]
