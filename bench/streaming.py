"""Stream benchmark: `lathe stream` throughput on RabbitMQ, NATS JetStream and Redis Streams
against `lathe serve` over HTTP in the same run, p99 latency, kill -9 trials, dead letters.

    .venv/bin/python bench/streaming.py                      # 100,000 messages, 5 kill trials
    .venv/bin/python bench/streaming.py --messages 20000 --trials 20
    .venv/bin/python bench/streaming.py --brokers rabbit --skip-http

Targets (issue 26): RabbitMQ, Adult gbm, 100,000 messages: >= 5,000 messages/s end to end
(NATS and Redis beside it); kill -9 at a random moment in 20 trials and restart: 0 messages
without an output in every trial, duplicates counted; 1 % malformed messages all in the
dead-letter queue with their error. Throughput is the consumer's own count from its first
output to its last (`messages_per_second` of `lathe stream --json`), on a queue filled
beforehand, and per CPU-second of the consumer process (which a shared machine disturbs less); the HTTP baseline is single-row POST /predict at concurrency 64 (bench/_http_load).
Latency: messages sent at a fixed rate while the consumer runs, from send to the output's
arrival (RabbitMQ). Writes bench/results/streaming.json; prints medians and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http_load import _free_port, run_load, start_server  # noqa: E402

ADULT = ROOT / "examples" / "data" / "adult.csv"
RESULTS = ROOT / "bench" / "results"
URLS = {"rabbit": "amqp://guest:guest@127.0.0.1:5672/", "nats": "nats://127.0.0.1:4222",
        "redis": "redis://127.0.0.1:6379"}
PORTS = {"rabbit": 5672, "nats": 4222, "redis": 6379}


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ---- the brokers, through their own clients ---------------------------------------------------
async def _rabbit(action: str, queue: str, bodies: list[bytes] | None = None) -> Any:
    import aio_pika

    connection = await aio_pika.connect(URLS["rabbit"])
    try:
        channel = await connection.channel(publisher_confirms=False)
        declared = await channel.declare_queue(queue, durable=True)
        if action == "clear":
            await declared.delete(if_unused=False, if_empty=False)
        elif action == "send":
            for body in bodies or []:
                await channel.default_exchange.publish(aio_pika.Message(body, delivery_mode=2),
                                                       routing_key=queue)
        elif action == "read":
            out = []
            while (message := await declared.get(fail=False, no_ack=False)) is not None:
                out.append(message.body)
            return out
        return None
    finally:
        await connection.close()


async def _nats(action: str, subject: str, bodies: list[bytes] | None = None) -> Any:
    import nats
    from nats.js.errors import NotFoundError

    from lathe.streams._nats import stream_name

    client = await nats.connect(URLS["nats"])
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
            await js.add_stream(name=name, subjects=[subject])
            items = bodies or []
            for start in range(0, len(items), 500):
                await asyncio.gather(*(js.publish(subject, b) for b in items[start:start + 500]))
            return None
        info = await js.stream_info(name)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            out.append((await js.get_msg(name, seq)).data)
        return out
    finally:
        await client.close()


def broker_do(kind: str, action: str, queue: str, bodies: list[bytes] | None = None) -> Any:
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(URLS["redis"])
        try:
            if action == "clear":
                client.delete(queue)
            elif action == "send":
                for start in range(0, len(bodies or []), 2000):
                    pipe = client.pipeline()
                    for body in (bodies or [])[start:start + 2000]:
                        pipe.xadd(queue, {"__data__": body})
                    pipe.execute()
            elif action == "read":
                return [fields[b"__data__"] for _, fields in client.xrange(queue)]
            return None
        finally:
            client.close()
    return asyncio.run((_rabbit if kind == "rabbit" else _nats)(action, queue, bodies))


def output_ids(kind: str, queue: str) -> list[str]:
    ids: list[str] = []
    for body in broker_do(kind, "read", queue):
        message = json.loads(body)
        ids.extend(o["id"] for o in (message if isinstance(message, list) else [message]))
    return ids


# ---- the workload ------------------------------------------------------------------------------
def rows(n: int) -> list[dict[str, Any]]:
    import pandas as pd

    frame = pd.read_csv(ADULT).drop(columns="income")
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [records[i % len(records)] for i in range(n)]


def messages(n: int, malformed: float, seed: int = 0) -> tuple[list[bytes], set[str], int]:
    """(bodies, ids of the good ones, number of malformed)."""
    rng = random.Random(seed)
    bad = set(rng.sample(range(n), int(n * malformed)))
    bodies, good = [], set()
    for i, row in enumerate(rows(n)):
        if i in bad:
            bodies.append(b'{"id": "m%d", "row": {"age": ' % i)  # truncated JSON
        else:
            bodies.append(json.dumps({"id": f"m{i}", "row": row}).encode())
            good.add(f"m{i}")
    return bodies, good, len(bad)


def stream_cmd(model: Path, kind: str, tag: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lathe.cli", "stream", str(model), "--source", URLS[kind],
            "--in", f"{tag}.in", "--out", f"{tag}.out", "--dead-letter", f"{tag}.dlq",
            "--group", tag, "--reclaim-after-ms", "3000", *extra]


def queues(tag: str) -> list[str]:
    return [f"{tag}.in", f"{tag}.out", f"{tag}.dlq"]


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def throughput(model: Path, kind: str, n: int, malformed: float) -> dict[str, Any]:
    tag = f"bench{kind}{os.getpid()}"
    for q in queues(tag):
        broker_do(kind, "clear", q)
    bodies, good, bad = messages(n, malformed)
    broker_do(kind, "send", f"{tag}.in", bodies)
    cpu_before = _children_cpu()
    done = subprocess.run(stream_cmd(model, kind, tag, "--idle-exit", "4", "--json"),
                          capture_output=True, text=True)
    cpu = _children_cpu() - cpu_before  # the consumer's whole life: start-up included
    if done.returncode != 0:
        raise RuntimeError(f"lathe stream on {kind} failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    seen = set(output_ids(kind, f"{tag}.out"))
    letters = [json.loads(b) for b in broker_do(kind, "read", f"{tag}.dlq")]
    result = {"broker": kind, "messages": n, "messages_per_s": summary["messages_per_second"],
              "missing": len(good - seen), "malformed": bad,
              "dead_letters": len(letters),
              "dead_letters_with_error": sum(1 for d in letters if d.get("error")),
              "batches": summary["batches"], "consumer_cpu_s": round(cpu, 1),
              "messages_per_cpu_s": round(n / cpu, 1)}
    for q in queues(tag):
        broker_do(kind, "clear", q)
    return result


def _out_count(queue: str) -> int:
    async def count() -> int:
        import aio_pika

        connection = await aio_pika.connect(URLS["rabbit"])
        try:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True)
            return int(declared.declaration_result.message_count or 0)
        finally:
            await connection.close()

    return asyncio.run(count())


def kill_trial(model: Path, n: int, seed: int) -> dict[str, Any]:
    """Kill -9 after a random number of output batches (1 to nearly all), restart, count."""
    rng = random.Random(seed)
    tag = f"benchkill{os.getpid()}x{seed}"
    for q in queues(tag):
        broker_do("rabbit", "clear", q)
    bodies, good, _ = messages(n, 0.0, seed)
    broker_do("rabbit", "send", f"{tag}.in", bodies)
    batches = max(2, n // 256)
    target = rng.randint(1, batches - 1)
    proc = subprocess.Popen(stream_cmd(model, "rabbit", tag), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while _out_count(f"{tag}.out") < target and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(output_ids("rabbit", f"{tag}.out"))
    subprocess.run(stream_cmd(model, "rabbit", tag, "--idle-exit", "3"),
                   capture_output=True, check=True)
    ids = output_ids("rabbit", f"{tag}.out")
    for q in queues(tag):
        broker_do("rabbit", "clear", q)
    return {"seed": seed, "kill_after_batches": target, "outputs_before_kill": before,
            "missing": len(good - set(ids)), "duplicates": len(ids) - len(set(ids))}


async def _paced(model: Path, n: int, rate: float) -> list[float]:
    """Send n messages at `rate`/s to a running consumer; seconds from send to output."""
    import aio_pika

    tag = f"benchlat{os.getpid()}"
    for q in queues(tag):
        await _rabbit("clear", q)
    proc = subprocess.Popen(stream_cmd(model, "rabbit", tag, "--max-wait-ms", "5"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    connection = await aio_pika.connect(URLS["rabbit"])
    channel = await connection.channel()
    out = await channel.declare_queue(f"{tag}.out", durable=True)
    await channel.declare_queue(f"{tag}.in", durable=True)
    done = asyncio.Event()

    async def on_output(message: Any) -> None:
        now = time.perf_counter()
        async with message.process():
            for item in json.loads(message.body):
                if item["id"] in sent:
                    latencies.append(now - sent.pop(item["id"]))
        if len(latencies) >= n:
            done.set()

    await out.consume(on_output)
    await asyncio.sleep(8.0)  # let the consumer start
    payload = rows(n)
    for i, row in enumerate(payload):
        key = f"l{i}"
        sent[key] = time.perf_counter()
        await channel.default_exchange.publish(
            aio_pika.Message(json.dumps({"id": key, "row": row}).encode(), delivery_mode=2),
            routing_key=f"{tag}.in")
        await asyncio.sleep(1.0 / rate)
    try:
        await asyncio.wait_for(done.wait(), 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        await connection.close()
        for q in queues(tag):
            await _rabbit("clear", q)
    return latencies


def http_baseline(model: Path, total: int) -> dict[str, Any]:
    port = _free_port()
    bodies = [json.dumps({"rows": [row]}).encode() for row in rows(500)]
    with tempfile.TemporaryDirectory() as logs:
        proc, _ = start_server(model, port, True, logs, log=False)
        try:
            return run_load(port, bodies, f"/v1/models/{model.name}/predict", total, 64)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def train_model(target: Path) -> Path:
    import pandas as pd

    import lathe

    model = lathe.train(pd.read_csv(ADULT), target="income", model="gbm", preset="fast")
    return Path(model.save(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--malformed", type=float, default=0.01)
    parser.add_argument("--brokers", default="rabbit,nats,redis")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--trial-messages", type=int, default=5000)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS / "streaming.json")
    args = parser.parse_args()
    model = args.model or train_model(Path(tempfile.mkdtemp()) / "adult")
    report: dict[str, Any] = {"messages": args.messages, "malformed": args.malformed,
                              "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    runs = []
    for kind in filter(None, args.brokers.split(",")):
        if not answers(PORTS[kind]):
            print(f"{kind}: no broker answers at 127.0.0.1:{PORTS[kind]}; skipped")
            continue
        runs.append(throughput(model, kind, args.messages, args.malformed))
        print(json.dumps(runs[-1]))
    print("kafka: no broker on this machine; not measured")
    report["throughput"] = runs
    if not args.skip_http:
        report["http"] = http_baseline(model, min(args.messages, 20_000))
        print("http", json.dumps(report["http"]))
    if answers(PORTS["rabbit"]) and not args.skip_latency:
        latencies = sorted(asyncio.run(_paced(model, 2000, 500.0)))
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        report["latency_rabbit_500_per_s"] = {"n": len(latencies), "p50_ms": round(q[49] * 1e3, 2),
                                              "p99_ms": round(q[98] * 1e3, 2)}
        print("latency", json.dumps(report["latency_rabbit_500_per_s"]))
    if answers(PORTS["rabbit"]) and args.trials:
        trials = [kill_trial(model, args.trial_messages, seed) for seed in range(args.trials)]
        report["kill_trials"] = trials
        for trial in trials:
            print("kill", json.dumps(trial))
    http_rate = (report.get("http") or {}).get("requests_per_s")
    print(f"\n{'broker':<8} {'msg/s':>9} {'vs HTTP':>8} {'missing':>8} {'dead/malformed':>15}")
    for run in runs:
        ratio = f"{run['messages_per_s'] / http_rate:.2f}x" if http_rate else "-"
        print(f"{run['broker']:<8} {run['messages_per_s']:>9,.0f} {ratio:>8} {run['missing']:>8} "
              f"{run['dead_letters']:>7}/{run['malformed']:<7}")
    if http_rate:
        print(f"{'http':<8} {http_rate:>9,.0f}   (POST /predict, 1 row, c=64, "
              f"p99 {report['http']['p99_ms']} ms)")
    if report.get("kill_trials"):
        trials = report["kill_trials"]
        print(f"kill -9 trials: {len(trials)}, messages without output: "
              f"{[t['missing'] for t in trials]}, duplicates median "
              f"{statistics.median(t['duplicates'] for t in trials)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
