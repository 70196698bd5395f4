"""Kafka through FastStream's KafkaBroker (aiokafka): the same code path as the others.

The inbox topic is read by consumer group ``--group`` with auto-commit off; acknowledging a
message commits its offset (FastStream's manual acknowledgement), after its output was
produced with ``acks=all``, so a restarted group member resumes after the last scored
message. Outputs are keyed by the output id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from lathe.streams._base import Delivery, Handler, Transport, TransportOptions

__all__ = ["KafkaTransport"]


def bootstrap(url: str) -> str:
    """The bootstrap servers of a kafka:// URL.

    >>> bootstrap("kafka://broker:9092,broker2:9092")
    'broker:9092,broker2:9092'
    """
    return urlsplit(url).netloc or "localhost:9092"


class KafkaTransport(Transport):
    def __init__(self, url: str, options: TransportOptions) -> None:
        from faststream.kafka import KafkaBroker

        super().__init__(url, options)
        self.broker = KafkaBroker(bootstrap(url), logger=None, apply_types=False, acks="all")

    def subscribe(self, handler: Handler) -> None:
        from faststream import AckPolicy

        context = self.broker.context  # the message being handled (no DI per message)

        subscriber = self.broker.subscriber(
            self.options.inbox,
            group_id=self.options.group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_records=min(self.options.prefetch, 500),
            batch=False,
        )

        @subscriber
        async def on_message(body: Any) -> None:
            message = context.get_local("message")
            await handler(Delivery(message.body, message.ack, message.nack))

    async def publish(self, queue: str, payload: bytes, message_id: str) -> None:
        await self.broker.publish(payload, topic=queue, key=message_id.encode(), correlation_id=message_id)
