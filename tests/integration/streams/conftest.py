"""Real brokers for the stream tests: RabbitMQ (5672, guest/guest), NATS JetStream (4222) and
Redis (6379) as they run on this machine and in CI. Each `Broker` sends, reads and clears
queues with the broker's own client library (aio-pika, nats-py, redis-py), never through
lathe, so the tests check lathe against the broker and not against itself. A broker that
does not answer skips its tests with the reason. Kafka: no broker runs here; its tests skip
unless LATHE_TEST_KAFKA names one (host:port).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
ADULT = ROOT / "examples" / "data" / "adult.csv"

URLS = {
    "rabbit": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379",
}


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """Send / read / clear with the broker's own client (one short connection per call).
    Reading leaves the messages where they are (RabbitMQ: got unacked, then requeued)."""

    def __init__(self, kind: str) -> None:
        self.kind, self.url = kind, URLS[kind]

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    # ---- RabbitMQ ----
    async def _rabbit(self, action: str, queue: str, bodies: list[bytes] | None = None) -> Any:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True)
            if action == "clear":
                await declared.delete(if_unused=False, if_empty=False)
            elif action == "send":
                for body in bodies or []:
                    await channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=2), routing_key=queue)
            elif action == "read":
                out = []  # read without acking: closing the connection puts them back
                while (message := await declared.get(fail=False, no_ack=False)) is not None:
                    out.append(message.body)
                return out
            elif action == "count":
                return declared.declaration_result.message_count
        finally:
            await connection.close()

    # ---- NATS JetStream ----
    async def _nats(self, action: str, subject: str, bodies: list[bytes] | None = None) -> Any:
        import nats
        from nats.js.errors import NotFoundError

        from lathe.streams._nats import stream_name

        client = await nats.connect(self.url)
        try:
            js = client.jetstream()
            name = stream_name(subject)  # the consumer's own naming, so both mean one stream
            if action == "clear":
                try:
                    await js.delete_stream(name)
                except NotFoundError:
                    pass
                return None
            if action == "send":
                try:
                    await js.add_stream(name=name, subjects=[subject])
                except Exception:  # noqa: BLE001 - it exists already
                    pass
                for body in bodies or []:
                    await js.publish(subject, body)
                return None
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                return [] if action == "read" else 0
            if action == "count":
                return info.state.messages
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    out.append((await js.get_msg(name, seq)).data)
                except NotFoundError:
                    continue
            return out
        finally:
            await client.close()

    # ---- Redis Streams ----
    def _redis(self, action: str, stream: str, bodies: list[bytes] | None = None) -> Any:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            if action == "clear":
                client.delete(stream)
            elif action == "send":
                pipe = client.pipeline()
                for body in bodies or []:
                    pipe.xadd(stream, {"__data__": body})
                pipe.execute()
            elif action == "read":
                return [fields[b"__data__"] for _, fields in client.xrange(stream)]
            elif action == "count":
                return client.xlen(stream)
        finally:
            client.close()

    def do(self, action: str, queue: str, bodies: list[bytes] | None = None) -> Any:
        if self.kind == "redis":
            return self._redis(action, queue, bodies)
        call = self._rabbit if self.kind == "rabbit" else self._nats
        return self.run(call(action, queue, bodies))

    def clear(self, *queues: str) -> None:
        for queue in queues:
            self.do("clear", queue)

    def send(self, queue: str, bodies: list[bytes]) -> None:
        self.do("send", queue, bodies)

    def read_json(self, queue: str) -> list[Any]:
        return [json.loads(body) for body in self.do("read", queue)]

    def output_ids(self, queue: str) -> list[str]:
        ids: list[str] = []
        for message in self.read_json(queue):
            items = message if isinstance(message, list) else [message]
            ids.extend(item["id"] for item in items)
        return ids


PORTS = {"rabbit": 5672, "nats": 4222, "redis": 6379}


@pytest.fixture(params=["rabbit", "nats", "redis"])
def broker(request: pytest.FixtureRequest) -> Broker:
    kind = request.param
    if not _answers(PORTS[kind]):
        pytest.skip(f"no {kind} broker answers at 127.0.0.1:{PORTS[kind]} (.ci/run starts one)")
    return Broker(kind)


@pytest.fixture()
def names() -> dict[str, str]:
    """Fresh queue names per test (the brokers are shared)."""
    tag = uuid.uuid4().hex[:8]
    return {"in": f"t{tag}.in", "out": f"t{tag}.out", "dlq": f"t{tag}.dlq"}


@pytest.fixture(scope="session")
def adult_rows() -> list[dict[str, Any]]:
    frame = pd.read_csv(ADULT, nrows=3000).drop(columns="income")
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]


@pytest.fixture(scope="session")
def stream_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import lathe

    frame = pd.read_csv(ADULT, nrows=1000)
    model = lathe.train(frame, target="income", threads=1, params={"n_estimators": 30})
    return Path(model.save(tmp_path_factory.mktemp("stream") / "adult"))


def messages(rows: list[dict[str, Any]], prefix: str = "m") -> list[bytes]:
    return [json.dumps({"id": f"{prefix}{i}", "row": row}).encode() for i, row in enumerate(rows)]


def stream_command(model: Path, kind: str, names: dict[str, str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "lathe.cli", "stream", str(model), "--source", URLS[kind],
            "--in", names["in"], "--out", names["out"], "--dead-letter", names["dlq"],
            "--group", f"g{names['in'][1:9]}", "--reclaim-after-ms", "1500", *extra]


def start_stream(model: Path, kind: str, names: dict[str, str], *extra: str,
                 env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(stream_command(model, kind, names, *extra), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def tools() -> Any:
    """The helpers above, for the test modules (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(messages=messages, command=stream_command, start=start_stream)


@pytest.fixture()
def rabbit() -> Broker:
    if not _answers(PORTS["rabbit"]):
        pytest.skip("no RabbitMQ answers at 127.0.0.1:5672 (.ci/run starts one)")
    return Broker("rabbit")
