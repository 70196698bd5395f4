"""NATS through FastStream's NatsBroker, on JetStream (core NATS has no acknowledgements, so
it cannot promise at-least-once).

Subjects are kept in JetStream streams: the stream that already holds a subject is used as it
is; a subject no stream holds gets one named ``LATHE_<subject>`` (file storage). The inbox is
read by a durable pull consumer named by ``--group`` (explicit acks; at most `prefetch`
unacknowledged), so a restarted consumer continues where the last one acknowledged; a message
left unacknowledged for ``reclaim_after_ms`` (a crashed consumer's) is delivered again. Outputs
are published through JetStream (a PubAck means the server stored them) with the output id as
``Nats-Msg-Id``, so a redelivered row's duplicate output is dropped by JetStream's duplicate
window.
"""

from __future__ import annotations

import re
from typing import Any

from lathe.streams._base import Delivery, Handler, Transport, TransportOptions

__all__ = ["NatsTransport"]


def stream_name(subject: str) -> str:
    """The name of the stream lathe makes for a subject.

    >>> stream_name("scoring.in")
    'LATHE_scoring_in'
    """
    return "LATHE_" + re.sub(r"[^A-Za-z0-9_-]", "_", subject)


class NatsTransport(Transport):
    def __init__(self, url: str, options: TransportOptions) -> None:
        from faststream.nats import NatsBroker

        super().__init__(url, options)
        self.broker = NatsBroker(
            url, logger=None, apply_types=False, max_reconnect_attempts=-1, reconnect_time_wait=1, connect_timeout=3
        )
        self.streams: dict[str, str] = {}
        self._handler: Handler | None = None
        self._subscriber: Any = None

    def subscribe(self, handler: Handler) -> None:
        self._handler = handler  # the subscriber needs the stream's name: made in `start`

    async def _stream_for(self, js: Any, subject: str) -> str:
        from nats.js.errors import NotFoundError

        try:
            return str(await js.find_stream_name_by_subject(subject))
        except NotFoundError:
            name = stream_name(subject)
            await js.add_stream(name=name, subjects=[subject])
            return name

    async def start(self) -> None:
        from faststream import AckPolicy
        from faststream.nats import ConsumerConfig, JStream, PullSub

        context = self.broker.context  # the message being handled (no DI per message)

        await self.broker.connect()
        js = self.broker.connection.jetstream()
        options = self.options
        for subject in (options.inbox, options.outbox, options.dead_letter):
            if subject:
                self.streams[subject] = await self._stream_for(js, subject)
        self._js = js
        if self._handler is not None:
            handler = self._handler
            self._subscriber = self.broker.subscriber(
                options.inbox,
                stream=JStream(self.streams[options.inbox], declare=False),
                durable=options.group,
                pull_sub=PullSub(batch_size=min(options.prefetch, 256), timeout=1.0),
                config=ConsumerConfig(max_ack_pending=options.prefetch,
                                      ack_wait=options.reclaim_after_ms / 1000),
                ack_policy=AckPolicy.MANUAL,
            )

            @self._subscriber
            async def on_message(body: Any) -> None:
                message = context.get_local("message")
                await handler(Delivery(message.body, message.ack, message.nack))

        await self.broker.start()

    async def publish(self, queue: str, payload: bytes, message_id: str) -> None:
        await self.broker.publish(
            payload,
            subject=queue,
            stream=self.streams[queue],
            headers={"Nats-Msg-Id": message_id, "content-type": "application/json"},
        )

    async def lag(self) -> int | None:
        info = await self._js.consumer_info(self.streams[self.options.inbox], self.options.group)
        return int(info.num_pending or 0)
