"""`lathe stream`: score a queue's messages with the server's predictor, losing none.

The loop, for every micro-batch (at most ``batch`` messages, or what arrived within
``max_wait_ms`` of its first message)::

    decode + validate each message ──▶ one model call (the server's Predictor, in a thread)
        ──▶ publish the outputs (one JSON array per batch, or one output per message)
        ──▶ publish each bad message to the dead-letter queue with its error
        ──▶ ack every message of the batch

A message is acknowledged only after its output (or its dead letter) was published and the
broker confirmed it. A crash anywhere before the ack leaves the message unacknowledged, so the
broker delivers it again and it is scored again: at-least-once, and the repeated output
carries the same ids, so a reader keeps the first. A failed publish hands the whole batch
back to the broker. The broker's prefetch bounds how many messages are held (back-pressure).

SIGTERM (or Ctrl-C) stops taking messages, finishes the batches already received, publishes
and acks them, then disconnects. The model follows its registry alias as `lathe serve` does:
every ``reload_every`` seconds the reference is resolved again and a new version is loaded
beside the old and swapped in between batches. Only serving's predictor and model source are
used: a stream consumer imports nothing of training, tuning or compression.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lathe.errors import LatheError, SchemaMismatch, UsageError
from lathe.streams._base import Delivery, Transport, TransportOptions
from lathe.streams._transport import connect_with_backoff
from lathe.streams.messages import BadMessage, Decoded, dead_letter, decode, output
from lathe.streams.metrics import StreamMetrics

__all__ = ["StreamSettings", "StreamConsumer", "score_batch", "run_stream"]


@dataclass
class StreamSettings:
    """What `lathe stream` was asked to do (the CLI's options, one to one).

    >>> StreamSettings("m", "amqp://h/", "in", "out").dead_letter
    'in.dlq'
    """

    model: str
    source: str
    inbox: str
    outbox: str
    dead_letter: str | None = ""  # "" = INBOX.dlq
    batch: int = 256
    max_wait_ms: float = 20.0
    prefetch: int = 0  # 0 = 4 x batch
    group: str = "lathe"
    per_message: bool = False
    reload_every: float = 5.0
    store: str | None = None
    prediction_log: str | None = None
    metrics_port: int | None = None
    give_up_after: float = 0.0
    idle_exit: float = 0.0
    reclaim_after_ms: int = 30_000

    def __post_init__(self) -> None:
        if self.dead_letter == "":
            self.dead_letter = f"{self.inbox}.dlq"
        if self.batch < 1 or self.max_wait_ms < 0:
            raise UsageError(f"--batch must be >= 1 and --max-wait-ms >= 0, got {self.batch} "
                             f"and {self.max_wait_ms:g}", hint="e.g. --batch 256 --max-wait-ms 20")
        if len({self.inbox, self.outbox, self.dead_letter}) < 3:
            raise UsageError("--in, --out and --dead-letter must name three different queues",
                             hint="e.g. --in scoring.in --out scoring.out --dead-letter "
                             "scoring.dlq")
        self.prefetch = self.prefetch or 4 * self.batch


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\x1f".join(ids).encode()).hexdigest()[:24]


def score_batch(predictor: Any, bodies: list[bytes], source: str) -> tuple[
        list[tuple[int, Decoded, list[dict[str, Any]]]], list[tuple[int, dict[str, Any]]]]:
    """Score the messages of one batch in one model call (blocking: run it in a thread).

    Returns the outputs of each good message (its index, decoded form and output objects)
    and the dead letter of each bad one (its index and the letter). Errors of the model
    itself (not of a message) propagate: the batch is then handed back to the broker."""
    good: list[tuple[int, Decoded]] = []
    parts: list[Any] = []
    dead: list[tuple[int, dict[str, Any]]] = []

    def refuse(i: int, error: Exception, message_id: str | None) -> None:
        dead.append((i, dead_letter(bodies[i], error, source=source, model=predictor.name,
                                    message_id=message_id)))

    for i, body in enumerate(bodies):
        decoded: Decoded | None = None
        try:
            decoded = decode(body)
            parts.append(predictor.prepare(decoded.rows))
            good.append((i, decoded))
        except (BadMessage, LatheError) as error:
            refuse(i, error, decoded.message_id if decoded else None)
    if not parts:
        return [], dead
    try:
        results: list[Any] = predictor.predict_many(parts)
    except SchemaMismatch as error:  # predict_many re-raises when the batch is one message
        results = [error]
    outputs = []
    name, version = predictor.name, predictor.version
    for (i, decoded), raw in zip(good, results, strict=True):
        if isinstance(raw, Exception):
            refuse(i, raw, decoded.message_id)
            continue
        answers = predictor.format(raw)
        outs = [output(row_id, answer, name, version)
                for row_id, answer in zip(decoded.ids, answers, strict=True)]
        outputs.append((i, decoded, outs))
    return outputs, dead


class StreamConsumer:
    """One consumer: a transport, a model source and the micro-batch loop (see module doc)."""

    def __init__(self, settings: StreamSettings, source: Any, *, say: Any = None) -> None:
        self.settings, self.source = settings, source
        self.say = say or (lambda line: None)
        self.metrics = StreamMetrics(source.name)
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=settings.prefetch)
        self.predictor: Any = None
        self.stopping = asyncio.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lathe-stream")
        self.transport: Transport | None = None
        self.log: Any = None
        self._last_message = time.monotonic()

    # ---- the broker's side ---------------------------------------------------------------
    async def handle(self, delivery: Delivery) -> None:
        self._last_message = time.monotonic()
        await self.queue.put(delivery)  # waits when `prefetch` messages are held

    def _make_transport(self) -> Transport:
        from lathe.streams._transport import open_transport

        s = self.settings
        transport = open_transport(s.source, TransportOptions(
            s.inbox, s.outbox, s.dead_letter, group=s.group, prefetch=s.prefetch,
            reclaim_after_ms=s.reclaim_after_ms))
        transport.subscribe(self.handle)
        return transport

    # ---- the model -----------------------------------------------------------------------
    async def load(self, initial: bool = False) -> bool:
        from lathe.serving.predictor import load_predictor

        loop = asyncio.get_running_loop()
        version, path = await loop.run_in_executor(None, self.source.resolve)
        if self.predictor is not None and version == self.predictor.version:
            return False
        predictor = await loop.run_in_executor(None, load_predictor, self.source.name,
                                               version, path)
        old, self.predictor = self.predictor, predictor
        self.metrics.version.labels(self.source.name, version).set(1)
        if old is not None:
            self.metrics.version.labels(self.source.name, old.version).set(0)
            self.metrics.reloads.labels(self.source.name, "switched").inc()
            self.say(f"model {self.source.name}: switched {old.version} -> {version}")
        return True

    async def _reload_loop(self) -> None:
        while self.settings.reload_every > 0:
            await asyncio.sleep(self.settings.reload_every)
            try:
                await self.load()
            except Exception as error:  # keep scoring with the loaded version; say why
                self.metrics.reloads.labels(self.source.name, "failed").inc()
                self.say(f"hot reload failed, still scoring with {self.predictor.version}: "
                         f"{error}")

    async def _lag_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            try:
                lag = await self.transport.lag() if self.transport else None
            except Exception:  # noqa: BLE001 - lag is a gauge; a broker hiccup skips one read
                lag = None
            if lag is not None:
                self.metrics.lag.labels(self.source.name).set(lag)

    # ---- the batch loop --------------------------------------------------------------------
    async def _next_batch(self) -> list[Delivery]:
        """The next micro-batch; [] when none began within 0.25 s (to look at `stopping`)."""
        try:
            first = await asyncio.wait_for(self.queue.get(), 0.25)
        except TimeoutError:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.max_wait_ms / 1000
        while len(batch) < self.settings.batch:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.stopping.is_set():
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def process(self, batch: list[Delivery]) -> None:
        started = time.perf_counter()
        s, predictor = self.settings, self.predictor  # one version for the whole batch
        bodies = [d.body for d in batch]
        loop = asyncio.get_running_loop()
        try:
            outputs, dead = await loop.run_in_executor(self.executor, score_batch, predictor,
                                                       bodies, s.inbox)
        except Exception as error:  # the model failed (not a message): hand the batch back
            self.metrics.error("model", retried=len(batch))
            self.say(f"scoring failed, {len(batch)} messages handed back: {error}")
            await self._retry(batch)
            await asyncio.sleep(1.0)
            return
        try:
            await self._publish(outputs, dead)
        except Exception as error:  # noqa: BLE001 - any broker failure: nothing is acked
            self.metrics.error("publish", retried=len(batch))
            self.say(f"publishing failed, {len(batch)} messages handed back: {error}")
            await self._retry(batch)
            await asyncio.sleep(1.0)
            return
        assert self.transport is not None
        acks = await self.transport.ack_many(batch)
        for failed in (a for a in acks if a is not None):
            self.metrics.error("ack")  # the broker redelivers it: a duplicate, never a loss
            self.say(f"ack failed (the message will come again): {failed}")
        seconds = time.perf_counter() - started
        rows = sum(len(outs) for _, _, outs in outputs)
        self.metrics.observe_batch(messages=len(batch), rows=rows, dead=len(dead),
                                   seconds=seconds)
        if self.log is not None:
            self._log(predictor, bodies, outputs, seconds)

    async def _publish(self, outputs: list[Any], dead: list[tuple[int, dict[str, Any]]]) -> None:
        transport, s = self.transport, self.settings
        assert transport is not None
        sends = []
        if s.per_message:
            for _, decoded, outs in outputs:
                payload = json.dumps(outs if decoded.many else outs[0]).encode()
                sends.append(transport.publish(s.outbox, payload, decoded.message_id))
        elif outputs:
            flat = [o for _, _, outs in outputs for o in outs]
            sends.append(transport.publish(s.outbox, json.dumps(flat).encode(),
                                           _digest([o["id"] for o in flat])))
        for _, letter in dead:
            assert s.dead_letter is not None
            letter_id = letter["id"] or _digest([letter["message"]])
            sends.append(transport.publish(s.dead_letter, json.dumps(letter).encode(),
                                           f"dead:{letter_id}"))
        await asyncio.gather(*sends)

    async def _retry(self, batch: list[Delivery]) -> None:
        await asyncio.gather(*(d.retry() for d in batch), return_exceptions=True)

    def _log(self, predictor: Any, bodies: list[bytes], outputs: list[Any],
             seconds: float) -> None:
        from lathe.predlog import PredictionRecord, RawJson

        for _, decoded, outs in outputs:
            self.log.append(PredictionRecord(
                f"stream-{uuid.uuid4().hex}", predictor.name, predictor.version,
                RawJson(json.dumps({"rows": decoded.rows})),
                RawJson(json.dumps([{k: v for k, v in o.items() if k in ("prediction",
                                     "probabilities")} for o in outs])),
                round(seconds * 1000, 3), client_id=decoded.message_id,
                n_rows=len(outs), row_ids=decoded.ids))

    # ---- running ---------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        s = self.settings
        await self.load(initial=True)
        if s.prediction_log:
            from lathe.predlog import PredictionLog

            self.log = PredictionLog(s.prediction_log)
        if s.metrics_port:
            self.metrics.serve(s.metrics_port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self.transport = await connect_with_backoff(self._make_transport, s.give_up_after,
                                                    self.say)
        self.say(f"scoring {self.source.name} {self.predictor.version} from {s.inbox!r} to "
                 f"{s.outbox!r} (dead letters: {s.dead_letter!r})")
        self._last_message = time.monotonic()  # --idle-exit counts from here
        helpers = [loop.create_task(self._reload_loop()), loop.create_task(self._lag_loop())]
        try:
            await self._loop()
        finally:
            for task in helpers:
                task.cancel()
            await self._drain()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if self.log is not None:
                self.log.close()
            self.executor.shutdown()
        return {"model": self.source.name, "version": self.predictor.version,
                **self.metrics.summary()}

    async def _loop(self) -> None:
        idle = self.settings.idle_exit
        while not self.stopping.is_set():
            batch = await self._next_batch()
            if batch:
                await self.process(batch)
            elif idle > 0 and time.monotonic() - self._last_message >= idle:
                self.say(f"no message for {idle:g} s: stopping")
                self.stopping.set()

    async def _drain(self) -> None:
        """Stop receiving, score and ack what was received, disconnect."""
        if self.transport is None:
            return
        try:
            await self.transport.stop_consuming()
        except Exception as error:  # noqa: BLE001 - unacked messages go back to the broker
            self.say(f"stopping the subscription: {error}")
        while not self.queue.empty():
            batch: list[Delivery] = []
            while not self.queue.empty() and len(batch) < self.settings.batch:
                batch.append(self.queue.get_nowait())
            await self.process(batch)
        await self.transport.close()


def run_stream(settings: StreamSettings, *, say: Any = None) -> dict[str, Any]:
    """Run a consumer until SIGTERM/Ctrl-C (or `idle_exit` seconds without a message);
    returns its summary (messages, rows, dead_letters, batches, messages_per_second, ...)."""
    from lathe.serving.sources import source_for

    source = source_for(settings.model, settings.store)
    return asyncio.run(StreamConsumer(settings, source, say=say).run())
