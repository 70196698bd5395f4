"""RabbitMQ through FastStream's RabbitBroker (aio-pika).

The three queues are declared durable and without arguments, the way `rabbitmqadmin` or a
producer usually declares them, so existing queues of that shape are reused as they are.
Outputs are persistent messages on the default exchange (routing key = queue name) with the
output id as `message_id`, published on a channel with publisher confirms: `publish` returns
once RabbitMQ has taken the message. The prefetch count is the back-pressure: RabbitMQ stops
delivering when that many messages wait for their ack.
"""

from __future__ import annotations

from typing import Any

from lathe.streams._base import Delivery, Handler, Transport, TransportOptions

__all__ = ["RabbitTransport"]


class RabbitTransport(Transport):
    def __init__(self, url: str, options: TransportOptions) -> None:
        from faststream.rabbit import RabbitBroker, RabbitQueue

        super().__init__(url, options)
        self.broker = RabbitBroker(url, logger=None, apply_types=False, fail_fast=True, reconnect_interval=2.0)
        names = [options.inbox, options.outbox] + (
            [options.dead_letter] if options.dead_letter else []
        )
        self.queues = {name: RabbitQueue(name, durable=True) for name in names}
        self._inbox_queue: Any = None
        self._held: dict[int, Any] = {}  # delivery tag -> message, until acked

    async def ack_many(self, deliveries: list[Delivery]) -> list[BaseException | None]:
        """One `basic.ack multiple` for the batch when every message held with a lower tag
        is in it (the usual case: FIFO); else one ack per message. A frame per message was
        the largest cost of the consumer on a busy machine (one send(2) each)."""
        tags = {d.key for d in deliveries}
        top = max(tags)
        if all(t in tags for t in self._held if t <= top):
            try:
                await self._held[top].raw_message.ack(multiple=True)
            except Exception as error:  # noqa: BLE001 - reported per message, redelivered
                return [error] * len(deliveries)
            finally:
                for tag in tags:
                    self._held.pop(tag, None)
            return [None] * len(deliveries)
        results = await super().ack_many(deliveries)
        for tag in tags:
            self._held.pop(tag, None)
        return results

    def subscribe(self, handler: Handler) -> None:
        from faststream import AckPolicy

        context = self.broker.context  # the message being handled (no DI per message)
        held = self._held
        from faststream.rabbit.schemas import Channel

        subscriber = self.broker.subscriber(
            self.queues[self.options.inbox],
            ack_policy=AckPolicy.MANUAL,
            channel=Channel(prefetch_count=self.options.prefetch),
        )

        @subscriber
        async def on_message(body: Any) -> None:
            message = context.get_local("message")
            tag = message.raw_message.delivery_tag
            held[tag] = message

            async def retry() -> None:
                held.pop(tag, None)
                await message.nack()

            await handler(Delivery(message.body, message.ack, retry, key=tag))

    async def declare(self) -> None:
        for name, queue in self.queues.items():
            declared = await self.broker.declare_queue(queue)
            if name == self.options.inbox:
                self._inbox_queue = declared

    async def publish(self, queue: str, payload: bytes, message_id: str) -> None:
        await self.broker.publish(
            payload,
            queue=self.queues[queue],
            persist=True,
            message_id=message_id,
            content_type="application/json",
        )

    async def lag(self) -> int | None:
        if self._inbox_queue is None:
            return None
        result = await self._inbox_queue.declare()  # re-declaring answers with the count
        return int(result.message_count or 0)
