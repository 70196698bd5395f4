"""Redis Streams through FastStream's RedisBroker (redis-py).

The inbox is read by a consumer group (``--group``; created at the stream's start when
missing, with the stream) as consumer ``<group>-<pid>``; entries stay in the group's pending list until
acked (XACK). A consumer that dies leaves its entries pending: a second subscriber of the same
group claims entries pending for longer than ``reclaim_after_ms`` (XAUTOCLAIM) and scores them
again, so a crash loses nothing (their outputs may repeat, with the same ids). XAUTOCLAIM
also returns this process's own entries that wait longer than that in its prefetch; those it
recognises and skips, so a slow batch is not scored twice. Outputs and dead
letters are XADDed to their streams as plain JSON in the field ``__data__`` (beside the output
id in ``message_id``), which FastStream and any Redis client read alike; XADD's reply is the
broker's receipt. Producers write input messages the same way: ``XADD rows * __data__ '{"id":
"a-1", "row": {...}}'`` (or publish them with FastStream).
"""

from __future__ import annotations

import os
from typing import Any

from lathe.streams._base import Delivery, Handler, Transport, TransportOptions

__all__ = ["RedisTransport"]


class _Held:
    """Entry ids this process holds or acked lately. XAUTOCLAIM cannot tell a dead consumer's
    pending entries from this process's slow ones; these are skipped, not scored twice.

    >>> h = _Held(); h.add(b"1-0"); (b"1-0" in h), h.done(b"1-0"), (b"1-0" in h)
    (True, None, True)
    """

    def __init__(self, recent: int = 50_000) -> None:
        from collections import deque

        self.now: set[bytes] = set()
        self.acked: set[bytes] = set()
        self.order: deque[bytes] = deque()
        self.recent = recent

    def add(self, entry: bytes) -> None:
        self.now.add(entry)

    def done(self, entry: bytes) -> None:
        self.now.discard(entry)
        self.acked.add(entry)
        self.order.append(entry)
        if len(self.order) > self.recent:
            self.acked.discard(self.order.popleft())

    def __contains__(self, entry: object) -> bool:
        return entry in self.now or entry in self.acked


class RedisTransport(Transport):
    def __init__(self, url: str, options: TransportOptions) -> None:
        from faststream.redis import RedisBroker

        super().__init__(url, options)
        self.broker = RedisBroker(url, logger=None, apply_types=False)  # type: ignore[arg-type]
        self._held = _Held()

    def subscribe(self, handler: Handler) -> None:
        from faststream import AckPolicy
        from faststream.redis import StreamSub

        context = self.broker.context  # the message being handled (no DI per message)

        options = self.options
        consumer = f"{options.group}-{os.getpid()}"
        live = StreamSub(options.inbox, group=options.group, consumer=consumer,
                         max_records=min(options.prefetch, 256), polling_interval=100)
        reclaim = StreamSub(options.inbox, group=options.group, consumer=f"{consumer}-reclaim",
                            min_idle_time=options.reclaim_after_ms, polling_interval=500)

        held = self._held

        async def on_message(body: Any) -> None:
            message = context.get_local("message")
            entry = message.raw_message["message_ids"][0]
            held.add(entry)

            async def ack() -> None:
                await self._xack([entry])

            await handler(Delivery(message.body, ack, message.nack, key=entry))

        async def on_reclaimed(body: Any) -> None:
            message = context.get_local("message")
            if message.raw_message["message_ids"][0] in held:
                return  # this process holds it (XACK is per group: its ack settles it)
            await on_message(body)

        self.broker.subscriber(stream=live, ack_policy=AckPolicy.MANUAL)(on_message)
        self.broker.subscriber(stream=reclaim, ack_policy=AckPolicy.MANUAL)(on_reclaimed)

    async def _xack(self, entries: list[bytes]) -> None:
        """XACK through the broker's own connection: FastStream's `message.ack()` does
        nothing once its subscriber is stopped, which lost the acks of the batches a SIGTERM
        drains (their entries were scored again by the next consumer)."""
        client = await self.broker.connect()
        await client.xack(self.options.inbox, self.options.group, *entries)
        for entry in entries:
            self._held.done(entry)

    async def ack_many(self, deliveries: list[Delivery]) -> list[BaseException | None]:
        """One XACK for the whole batch."""
        try:
            await self._xack([d.key for d in deliveries])
        except Exception as error:  # noqa: BLE001 - reported per message; they come again
            return [error] * len(deliveries)
        return [None] * len(deliveries)

    async def start(self) -> None:
        from redis.exceptions import ResponseError

        # A new group starts at the stream's beginning (as a new queue consumer would), not
        # at its end as FastStream's default "$" does; FastStream then finds it existing.
        client = await self.broker.connect()
        try:
            await client.xgroup_create(self.options.inbox, self.options.group, id="0",
                                       mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        await self.broker.start()

    async def publish(self, queue: str, payload: bytes, message_id: str) -> None:
        client = await self.broker.connect()  # the connected redis.asyncio client
        await client.xadd(queue, {"__data__": payload, "message_id": message_id})

    async def lag(self) -> int | None:
        client = await self.broker.connect()
        groups = await client.xinfo_groups(self.options.inbox)
        for group in groups:
            name = group.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == self.options.group:
                lag = group.get("lag")
                return None if lag is None else int(lag)
        return None
