"""Streams: `lathe stream` scores a message queue's rows with the server's predictor,
at-least-once with idempotent outputs, over RabbitMQ, NATS JetStream, Redis Streams or Kafka
(FastStream).

    lathe stream churn@champion --source amqp://guest:guest@127.0.0.1:5672/ \\
        --in scoring.in --out scoring.out --dead-letter scoring.dlq --batch 256 --max-wait-ms 20

Input ``{"id": "a-1", "row": {...}}`` (or ``"rows": [...]``); output objects
``{"id", "prediction", "probabilities", "model", "version"}``; bad messages go to the
dead-letter queue with their error (see `lathe.streams.messages`, `lathe.streams.consumer`).

>>> from lathe.streams import StreamSettings
>>> StreamSettings("churn", "nats://127.0.0.1:4222", "rows", "scores").prefetch
1024
"""

from __future__ import annotations

from typing import Any

__all__ = ["StreamSettings", "run_stream"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lathe.streams import consumer

        return getattr(consumer, name)
    raise AttributeError(name)
