"""The transport contract every broker module implements.

Rules for a `Transport` (each broker module implements them):

* `subscribe(handler)` before `start()`: `handler(delivery)` is awaited for every message, in
  the order the broker delivers it; it may hold the message (not ack it) for as long as it
  likes. The broker stops sending when `prefetch` messages are unacknowledged.
* `publish(queue, payload, message_id)` returns only once the broker has the message
  (RabbitMQ publisher confirms, a JetStream PubAck, an XADD reply, a Kafka ack); it raises
  otherwise, and the consumer then does not ack the inputs.
* `Delivery.ack()` acknowledges one input (`ack_many` a batch, in one frame where the broker
  allows); `Delivery.retry()` hands it back for redelivery.
* `lag()` is how many messages wait (None where the broker does not say cheaply).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "Handler", "Transport", "TransportOptions"]


@dataclass
class Delivery:
    """One received message: its bytes and how to settle it."""

    body: bytes
    ack: Callable[[], Awaitable[Any]]
    retry: Callable[[], Awaitable[Any]]
    key: Any = None  # the broker's handle (RabbitMQ: the delivery tag)


@dataclass
class TransportOptions:
    inbox: str
    outbox: str
    dead_letter: str | None
    group: str = "lathe"
    prefetch: int = 1024
    reclaim_after_ms: int = 30_000  # NATS ack wait; Redis: claim what a dead consumer left


Handler = Callable[[Delivery], Awaitable[None]]


class Transport:
    """Base of the broker modules (see the module docstring for the rules)."""

    broker: Any

    def __init__(self, url: str, options: TransportOptions) -> None:
        self.url, self.options = url, options

    def subscribe(self, handler: Handler) -> None:
        raise NotImplementedError

    async def declare(self) -> None:
        """Create (or check) the queues/streams after connecting."""

    async def publish(self, queue: str, payload: bytes, message_id: str) -> None:
        raise NotImplementedError

    async def ack_many(self, deliveries: list[Delivery]) -> list[BaseException | None]:
        """Acknowledge a batch; one entry per delivery: None, or why its ack failed."""
        import asyncio

        results = await asyncio.gather(*(d.ack() for d in deliveries), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    async def lag(self) -> int | None:
        return None

    async def start(self) -> None:
        await self.broker.start()
        await self.declare()

    async def stop_consuming(self) -> None:
        for subscriber in self.broker.subscribers:
            await subscriber.stop()

    async def close(self) -> None:
        await self.broker.stop()
