"""One broker behind one small interface, on FastStream (RabbitMQ, NATS JetStream, Redis
Streams and Kafka through the same subscriber/publisher API). The contract is `lathe.streams._base.Transport`.

Why FastStream: one maintained library whose brokers share `subscriber`, `publish`,
acknowledgement policies and reconnects, over the usual drivers (aio-pika, nats-py, redis-py,
aiokafka). lathe needs only manual acknowledgement (`AckPolicy.MANUAL`): the consumer acks a
message after its output was published, never before.

>>> parse_source("amqp://guest:guest@127.0.0.1:5672/").scheme
'amqp'
>>> parse_source("ftp://x")
Traceback (most recent call last):
...
lathe.errors.UsageError: --source ftp://x: unknown scheme 'ftp'; use amqp://, nats://, redis:// or kafka://. Fix: e.g. --source amqp://guest:guest@127.0.0.1:5672/
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from lathe.errors import MissingDependency, StoreUnavailable, UsageError
from lathe.streams._base import Delivery, Transport, TransportOptions

__all__ = ["Delivery", "Transport", "TransportOptions", "parse_source", "open_transport"]

SCHEMES = {"amqp": "rabbit", "amqps": "rabbit", "nats": "nats", "tls": "nats", "redis": "redis",
           "rediss": "redis", "kafka": "kafka"}


def parse_source(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise UsageError(
            f"--source {url}: unknown scheme {parts.scheme!r}; use amqp://, nats://, redis:// "
            "or kafka://",
            hint="e.g. --source amqp://guest:guest@127.0.0.1:5672/",
        )
    return parts


def open_transport(url: str, options: TransportOptions) -> Transport:
    """The transport for a --source URL (its broker not yet connected)."""
    kind = SCHEMES[parse_source(url).scheme]
    try:
        if kind == "rabbit":
            from lathe.streams._rabbit import RabbitTransport as T
        elif kind == "nats":
            from lathe.streams._nats import NatsTransport as T  # type: ignore[assignment]
        elif kind == "redis":
            from lathe.streams._redis import RedisTransport as T  # type: ignore[assignment]
        else:
            from lathe.streams._kafka import KafkaTransport as T  # type: ignore[assignment]
    except ImportError as error:
        raise MissingDependency(
            f"lathe stream over {kind} needs FastStream's {kind} driver ({error.name} is missing)",
            hint="pip install 'lathe[streams]'",
        ) from None
    return T(url, options)


def shown(url: str) -> str:
    """The URL without its password, for messages.

    >>> shown("amqp://guest:secret@10.0.0.1:5672/")
    'amqp://guest@10.0.0.1:5672/'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


async def connect_with_backoff(
    make: Callable[[], Transport], give_up_after_s: float, say: Callable[[str], None] | None = None
) -> Transport:
    """A connected transport from `make()` (a fresh one per attempt), retrying with exponential back-off (0.5 s doubling to 15 s); one line on stderr
    per failed attempt. `give_up_after_s` > 0 raises StoreUnavailable (exit 69) after that."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    started, delay = time.monotonic(), 0.5
    while True:
        transport = make()
        try:
            await asyncio.wait_for(transport.start(), timeout=max(5.0, delay * 4))
            return transport
        except (OSError, TimeoutError, ConnectionError) as error:
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
        except Exception as error:  # the drivers raise their own types for a refused connection
            if "connect" not in type(error).__name__.lower() and "connect" not in str(error).lower():
                raise
            reason = f"{type(error).__name__}: {error}"
        try:
            await transport.close()
        except Exception:  # noqa: BLE001 - a half-open broker may fail to close; it is dropped
            pass
        waited = time.monotonic() - started
        if give_up_after_s > 0 and waited + delay > give_up_after_s:
            raise StoreUnavailable(
                f"the broker at {shown(transport.url)} does not answer after {waited:.0f} s "
                f"({reason})",
                hint="check the --source URL and that the broker runs; --give-up-after 0 "
                "keeps retrying",
                source=shown(transport.url),
            )
        say(f"broker {shown(transport.url)} does not answer ({reason}); retrying in {delay:g} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 15.0)
