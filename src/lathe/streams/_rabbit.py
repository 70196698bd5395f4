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
        self.broker = RabbitBroker(url, logger=None, fail_fast=True, reconnect_interval=2.0)
        names = [options.inbox, options.outbox] + (
            [options.dead_letter] if options.dead_letter else []
        )
        self.queues = {name: RabbitQueue(name, durable=True) for name in names}
        self._inbox_queue: Any = None

    def subscribe(self, handler: Handler) -> None:
        from faststream import AckPolicy, Context
        from faststream.rabbit.schemas import Channel

        subscriber = self.broker.subscriber(
            self.queues[self.options.inbox],
            ack_policy=AckPolicy.MANUAL,
            channel=Channel(prefetch_count=self.options.prefetch),
        )

        @subscriber
        async def on_message(body: Any, message: Any = Context("message")) -> None:  # noqa: B008
            await handler(Delivery(message.body, message.ack, message.nack))

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
