"""Every scheme builds its FastStream broker and subscriber without a server (Kafka has no
broker on this machine: this is as far as its code runs here; see the integration tests)."""

from __future__ import annotations

import pytest

from lathe.errors import UsageError
from lathe.streams._base import Delivery, TransportOptions
from lathe.streams._transport import open_transport, parse_source


@pytest.mark.parametrize("url, kind", [
    ("amqp://guest:guest@127.0.0.1:5672/", "RabbitTransport"),
    ("nats://127.0.0.1:4222", "NatsTransport"),
    ("redis://127.0.0.1:6379", "RedisTransport"),
    ("kafka://127.0.0.1:9092", "KafkaTransport"),
])
def test_each_scheme_has_its_transport(url: str, kind: str) -> None:
    transport = open_transport(url, TransportOptions("rows", "scores", "rows.dlq"))

    async def handler(delivery: Delivery) -> None:
        return None

    transport.subscribe(handler)
    assert type(transport).__name__ == kind
    assert transport.broker is not None


def test_an_unknown_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown scheme 'mqtt'"):
        parse_source("mqtt://127.0.0.1:1883")
