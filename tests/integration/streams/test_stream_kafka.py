"""Kafka, the same code path: runs where a broker answers (LATHE_TEST_KAFKA=host:port, default
127.0.0.1:9092) and skips with a message where none does (none runs on this machine)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

KAFKA = os.environ.get("LATHE_TEST_KAFKA", "127.0.0.1:9092")


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, int(port))) == 0


async def _send_and_read(topic: str, bodies: list[bytes] | None, read: str | None) -> list[Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    if bodies:
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
        await producer.start()
        try:
            for body in bodies:
                await producer.send_and_wait(topic, body)
        finally:
            await producer.stop()
    if read is None:
        return []
    consumer = AIOKafkaConsumer(read, bootstrap_servers=KAFKA, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [json.loads(m.value) for records in batches.values() for m in records]
    finally:
        await consumer.stop()


def test_kafka_scores_every_message(
    names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]], tools: Any,
) -> None:
    if not _answers(KAFKA):
        pytest.skip(f"no Kafka broker answers at {KAFKA} (set LATHE_TEST_KAFKA=host:port)")
    bodies = tools.messages(adult_rows[:100]) + [b"{not json"]
    asyncio.run(_send_and_read(names["in"], bodies, None))
    command = [sys.executable, "-m", "lathe.cli", "stream", str(stream_model), "--source",
               f"kafka://{KAFKA}", "--in", names["in"], "--out", names["out"],
               "--dead-letter", names["dlq"], "--idle-exit", "5", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    outputs = asyncio.run(_send_and_read(names["out"], None, names["out"]))
    ids = {o["id"] for message in outputs for o in message}
    assert ids == {f"m{i}" for i in range(100)}
    letters = asyncio.run(_send_and_read(names["dlq"], None, names["dlq"]))
    assert [letter["error"]["type"] for letter in letters] == ["BadMessage"]
