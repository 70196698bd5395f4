"""The models a server holds, and hot reload between versions without failing requests.

A request takes a snapshot of its model's `Active` (predictor + batcher) once and uses it to
the end. Reload loads the new version next to the old, warms it up, swaps the snapshot in one
assignment (atomic for the event loop) and only then drains the old batcher; a request that
still holds the old snapshot is answered by the old version.

    hub = ModelHub(settings, metrics, executor)
    await hub.start()            # loads every model (concurrently), ready when it returns
    active = hub.get("adult").active
    await hub.reload("adult")    # True when the source now points at another version
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass

from lathe.errors import NotFound, UsageError, did_you_mean
from lathe.serving.batching import MicroBatcher
from lathe.serving.input_warnings import InputWarnings
from lathe.serving.observability import LOGGER, ServingMetrics
from lathe.serving.predictor import Predictor, load_predictor
from lathe.serving.settings import ServeSettings
from lathe.serving.sources import ModelSource, source_for

__all__ = ["Active", "ModelSlot", "ModelHub"]


@dataclass
class Active:
    predictor: Predictor
    batcher: MicroBatcher | None
    warnings: InputWarnings | None = None


class ModelSlot:
    def __init__(self, source: ModelSource) -> None:
        self.source = source
        self.name = source.name
        self.active: Active | None = None
        self.loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def version(self) -> str | None:
        return self.active.predictor.version if self.active else None


class ModelHub:
    def __init__(
        self, settings: ServeSettings, metrics: ServingMetrics, executor: Executor
    ) -> None:
        self.settings, self.metrics, self.executor = settings, metrics, executor
        self.slots: dict[str, ModelSlot] = {}
        for ref in settings.models:
            source = source_for(ref, settings.store)
            if source.name in self.slots:
                raise UsageError(
                    f"two models would be served as {source.name!r} "
                    f"({self.slots[source.name].source.describe()} and {source.describe()})",
                    hint="serve each name once; rename one artifact directory",
                )
            self.slots[source.name] = ModelSlot(source)
        self.ready = False
        self._poller: asyncio.Task[None] | None = None

    def add_source(self, source: ModelSource) -> ModelSlot:
        """Serve a model from any ModelSource (call before `start`)."""
        self.slots[source.name] = ModelSlot(source)
        return self.slots[source.name]

    def get(self, name: str) -> ModelSlot:
        slot = self.slots.get(name)
        if slot is None or slot.active is None:
            raise NotFound(
                f"no model named {name!r} is served here; {did_you_mean(name, self.slots)}",
                hint="GET /v1/models lists the served models",
                model=name,
            )
        return slot

    def _make_active(self, predictor: Predictor) -> Active:
        batcher = None
        if self.settings.batching:
            name, version = predictor.name, predictor.version
            batcher = MicroBatcher(
                predictor.predict_many,
                self.executor,
                max_batch=self.settings.max_batch,
                max_wait_ms=self.settings.max_wait_ms,
                max_in_flight=self.settings.model_threads,
                on_batch=lambda requests, rows: self.metrics.observe_batch(
                    name, version, requests, rows
                ),
            )
        warnings = InputWarnings(predictor.schema, row_id_field=self.settings.row_id_field)
        return Active(predictor, batcher, warnings)

    async def start(self) -> None:
        await asyncio.gather(*(self.reload(name, initial=True) for name in self.slots))
        self.ready = True
        if self.settings.reload_interval_s > 0:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def reload(self, name: str, *, initial: bool = False) -> bool:
        """Switch `name` to the version its source resolves to now; True if it changed."""
        slot = self.slots[name]
        loop = asyncio.get_running_loop()
        async with slot._lock:
            version, path = await loop.run_in_executor(None, slot.source.resolve)
            if slot.active is not None and version == slot.version:
                return False
            started = time.perf_counter()
            predictor = await loop.run_in_executor(None, load_predictor, name, version, path)
            old, slot.active = slot.active, self._make_active(predictor)
            slot.loaded_at = time.time()
        self.metrics.loaded.labels(name, version).set(1)
        if old is not None:
            self.metrics.loaded.labels(name, old.predictor.version).set(0)
            self.metrics.reloads.labels(name, "switched").inc()
            if old.batcher is not None:
                await old.batcher.close()
        LOGGER.info(
            "model loaded" if initial else "model reloaded",
            extra={
                "model": name,
                "version": version,
                "previous": old.predictor.version if old else None,
                "path": str(path),
                "seconds": round(time.perf_counter() - started, 3),
                "native_fast_path": predictor.native is not None,
            },
        )
        return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_interval_s)
            for name in list(self.slots):
                try:
                    await self.reload(name)
                except Exception as error:  # keep serving the old version; say why loudly
                    self.metrics.reloads.labels(name, "failed").inc()
                    LOGGER.error(
                        "hot reload failed; still serving the previous version",
                        extra={"model": name, "error": str(error)},
                    )

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
        for slot in self.slots.values():
            if slot.active is not None and slot.active.batcher is not None:
                await slot.active.batcher.close()
