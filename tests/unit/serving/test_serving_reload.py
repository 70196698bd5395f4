"""Hot reload: a new version replaces the old under load without one failed request."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import httpx

from lathe.serving import ServeSettings, create_app
from lathe.serving.sources import PathSource, RegistrySource


def _swap_directory(target, new_content):
    """Replace an artifact directory the way a deploy script would: stage, then rename."""
    staging = target.with_name(".staging")
    shutil.copytree(new_content, staging)
    trash = target.with_name(".old")
    os.replace(target, trash)
    os.replace(staging, target)
    shutil.rmtree(trash)


def test_path_source_version_changes_with_content(served_copy, adult_model_dir_b):
    source = PathSource(served_copy)
    before, path = source.resolve()
    assert source.name == "adult" and path == served_copy
    assert source.resolve()[0] == before
    _swap_directory(served_copy, adult_model_dir_b)
    assert source.resolve()[0] != before


def test_reload_under_load_fails_no_request(served_copy, adult_model_dir_b, holdout_rows):
    app = create_app(
        ServeSettings(models=[str(served_copy)], reload_interval_s=0.05, prediction_log=None)
    )
    first_version = PathSource(served_copy).resolve()[0]

    async def main():
        statuses, versions = [], []
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def worker(k):
                    i = k
                    while not stop.is_set():
                        r = await client.post(
                            "/v1/models/adult/predict", json={"rows": [holdout_rows[i % 200]]}
                        )
                        statuses.append(r.status_code)
                        versions.append(r.json().get("version"))
                        i += 8

                workers = [asyncio.create_task(worker(k)) for k in range(8)]
                await asyncio.sleep(0.3)
                await asyncio.get_running_loop().run_in_executor(
                    None, _swap_directory, served_copy, adult_model_dir_b
                )
                deadline = time.monotonic() + 15
                new_seen_at = None
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    if versions and versions[-1] != first_version and new_seen_at is None:
                        new_seen_at = len(versions)
                    if new_seen_at is not None and len(versions) > new_seen_at + 50:
                        break
                stop.set()
                await asyncio.gather(*workers)
        return statuses, versions

    statuses, versions = asyncio.run(main())
    assert set(statuses) == {200}, f"failed requests during reload: {set(statuses)}"
    assert versions[0] == first_version and versions[-1] != first_version
    assert len(set(versions)) == 2
    assert len(statuses) > 100


def test_registry_alias_move_reaches_the_server(
    tmp_path, client_for, adult_model_dir, adult_model_dir_b, holdout_rows
):
    from lathe.registry import open_registry

    store = f"sqlite:///{tmp_path}/reg/lathe.db"
    with open_registry(store) as registry:
        v1 = registry.register(adult_model_dir, name="adult")
        v2 = registry.register(adult_model_dir_b, name="adult")
        registry.promote("adult", v1.version, force=True, reason="first")
    source = RegistrySource("adult@champion", store)
    assert source.name == "adult" and source.resolve()[0] == "adult:1"

    client = client_for(models=["adult@champion"], store=store)
    body = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]}).json()
    assert body["version"] == "adult:1"
    assert client.post("/v1/models/adult/reload").json()["changed"] is False
    with open_registry(store) as registry:
        registry.promote("adult", v2.version, force=True, reason="better")
    reloaded = client.post("/v1/models/adult/reload").json()
    assert reloaded == {"model": "adult", "version": "adult:2", "changed": True}
    body = client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]}).json()
    assert body["version"] == "adult:2"
    assert 'lathe_model_loaded{model="adult",version="adult:2"} 1.0' in client.get("/metrics").text
