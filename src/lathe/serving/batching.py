"""Adaptive micro-batching: concurrent requests for one model share one model call.

A collector task takes queued requests and hands them to the model thread pool as one batch.
It never waits when the model is idle and nothing else is queued, so a lone request pays no
batching latency; under load, requests pile up while a call is running and the next call
takes all of them (up to `max_batch` rows). When the previous batch held more than one
request (there *is* concurrency), it also waits up to `max_wait_ms` for stragglers.

Model calls run in a `ThreadPoolExecutor` (LightGBM and numpy release the GIL), never on the
event loop. `close()` drains what is queued; a request submitted after that runs unbatched,
so a request that raced a hot reload is still answered.

>>> import asyncio, numpy as np
>>> from concurrent.futures import ThreadPoolExecutor
>>> sizes = []
>>> def call(parts):
...     sizes.append(len(parts)); return [p * 2 for p in parts]
>>> async def demo():
...     b = MicroBatcher(call, ThreadPoolExecutor(1), max_batch=8, max_wait_ms=1)
...     out = await asyncio.gather(*(b.submit(i, 1) for i in range(5)))
...     await b.close(); return out
>>> asyncio.run(demo()), sum(sizes)
([0, 2, 4, 6, 8], 5)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

__all__ = ["MicroBatcher", "BatchCall"]

_STOP: Any = object()

BatchCall = Callable[[list[Any]], list[Any]]
"""Blocking: takes the items of a batch, returns one result per item (same order); an
Exception instance as a result fails only that item's request, a raised one fails all."""


class MicroBatcher:
    def __init__(
        self,
        call: BatchCall,
        executor: Executor,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
        max_in_flight: int = 2,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.call, self.executor = call, executor
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.on_batch = on_batch  # (requests, rows) per model call, for metrics
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._busy = False  # did the last batch see concurrency?
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Any, rows: int) -> Any:
        """Queue one request's prepared input; returns its result from the batched call."""
        loop = asyncio.get_running_loop()
        if self._closing:
            result = (await loop.run_in_executor(self.executor, self.call, [item]))[0]
            if isinstance(result, Exception):
                raise result
            return result
        if self._task is None:
            self._task = loop.create_task(self._collect())
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait((item, rows, future))
        return await future

    async def _collect(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            await self._slots.acquire()  # requests pile up here while the model is busy
            batch, rows = [first], first[1]
            deadline = time.monotonic() + (self.max_wait if self._busy else 0.0)
            while rows < self.max_batch:
                try:
                    entry = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        entry = await asyncio.wait_for(self._queue.get(), left)
                    except TimeoutError:
                        break
                if entry is _STOP:
                    stopping = True
                    break
                batch.append(entry)
                rows += entry[1]
            self._busy = len(batch) > 1
            task = asyncio.get_running_loop().create_task(self._run(batch, rows))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[Any, int, asyncio.Future[Any]]], rows: int) -> None:
        try:
            if self.on_batch is not None:
                self.on_batch(len(batch), rows)
            loop = asyncio.get_running_loop()
            try:
                results = await loop.run_in_executor(
                    self.executor, self.call, [item for item, _, _ in batch]
                )
            except Exception as error:  # noqa: BLE001 - handed to every waiting request
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                return
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():  # the request may have timed out meanwhile
                    continue
                if isinstance(result, Exception):  # this request's own failure
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Answer everything queued, then stop; later submits run unbatched."""
        self._closing = True
        if self._task is not None:
            self._queue.put_nowait(_STOP)  # FIFO: everything queued before it is answered
            await self._task
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
