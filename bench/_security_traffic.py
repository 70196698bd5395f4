"""bench/security.py's traffic parts: a Schemathesis run over every endpoint of a real
`lathe serve` (>= 10,000 requests), and honest load with 10 % hostile requests mixed in.

The load client runs in its own process (asyncio, raw HTTP/1.1 keep-alive) so it does not
share the server's interpreter. Honest requests go over one keep-alive connection per
client; each hostile request (a wrong key, a body over the limit, bad JSON) opens its own
connection, as an attacker's would, and is expected to be refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "k-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_server(model: Path, work: Path, port: int) -> subprocess.Popen[bytes]:
    """`lathe serve MODEL --api-keys` with one fast key; returns once /readyz answers."""
    from lathe.serving.auth import hash_key

    keys = work / "keys.yaml"
    keys.write_text(json.dumps({"keys": [{"name": "bench", "sha256": hash_key(KEY),
                                          "scopes": ["predict", "admin"],
                                          "rate_per_second": 1e9}]}))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lathe.cli", "serve", str(model), "--port", str(port),
         "--api-keys", str(keys), "--prediction-log", f"sqlite:///{work}/p-{port}.db",
         "--reload-every", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("lathe serve exited during start-up") from None
            time.sleep(0.1)
    raise RuntimeError("lathe serve did not become ready in 120 s")


# ---- Schemathesis --------------------------------------------------------------------------
def _round(op: Any, fixed: str | None, examples: int, seen: dict[int, int],
           problems: list[str]) -> None:
    """One Hypothesis run of `examples` generated requests against one operation."""
    from hypothesis import HealthCheck, given, settings

    @given(case=op.as_strategy())
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        if fixed is not None:
            case.path_parameters = {**(case.path_parameters or {}), "name": fixed}
        answer = case.call(headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        where = f"{op.method.upper()} {case.formatted_path}"
        if answer.status_code >= 500:
            problems.append(f"{where}: {answer.status_code}")
        if "Traceback" in answer.text or 'File "' in answer.text:
            problems.append(f"{where}: stack trace")
        if 400 <= answer.status_code < 500 and not {"error", "message"} <= set(answer.json()):
            problems.append(f"{where}: not the error shape")

    call()


def fuzz(base: str, served: str, target: int) -> dict[str, Any]:
    """Rounds of Schemathesis over every operation (with generated and with the served
    model's name) until `target` requests were sent."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    plan = [(op, fixed) for op in operations
            for fixed in ((None, served) if "{name}" in op.path else (None,))]
    seen: dict[int, int] = {}
    problems: list[str] = []
    examples = max(10, target // (len(plan) * 3))
    began = time.perf_counter()
    while sum(seen.values()) < target:
        for op, fixed in plan:
            _round(op, fixed, examples, seen, problems)
    return {"requests": sum(seen.values()), "statuses": dict(sorted(seen.items())),
            "server_errors": sum(v for k, v in seen.items() if k >= 500),
            "problems": problems[:20], "problem_count": len(problems),
            "operations": len(operations), "seconds": round(time.perf_counter() - began, 1)}


# ---- honest load with hostile requests mixed in ------------------------------------------
def _honest_request(port: int, body: bytes) -> bytes:
    return (f"POST /v1/models/m/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _hostile_request(port: int, kind: int, body: bytes) -> bytes:
    head = f"POST /v1/models/m/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if kind == 0:  # a wrong key
        return (head + f"Authorization: Bearer nope-{kind}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    if kind == 1:  # 1.1 MiB: over the 1 MiB limit (413; the server reads and drops it)
        huge = b'{"rows": [' + b'{"age": 1},' * 105_000 + b'{}]}'
        return (head + f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(huge)}\r\nConnection: close\r\n\r\n").encode() + huge
    bad = b'{"rows": [{"age": 1,,]'  # broken JSON
    return (head + f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(bad)}\r\nConnection: close\r\n\r\n").encode() + bad


async def _read_response(reader: asyncio.StreamReader) -> int:
    header = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in header.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(header[9:12])


async def _hostile(port: int, request: bytes, refused: list[int]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        refused.append(await asyncio.wait_for(_read_response(reader), 30))
        writer.close()
    except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        refused.append(0)  # the server closed on it: refused too


async def _client(port: int, bodies: list[bytes], count: int, start: int, hostile: bool,
                  out: dict[str, list[Any]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pending: list[asyncio.Task[None]] = []
    for i in range(count):
        n = start + i
        if hostile and n % 10 == 9:
            pending.append(asyncio.create_task(
                _hostile(port, _hostile_request(port, (n // 10) % 3, bodies[0]), out["refused"])))
            continue
        began = time.perf_counter()
        writer.write(_honest_request(port, bodies[n % len(bodies)]))
        status = await _read_response(reader)
        out["latencies"].append(time.perf_counter() - began)
        if status != 200:
            out["errors"].append(status)
    await asyncio.gather(*pending)
    writer.close()


def _load(port: int, bodies: list[bytes], total: int, concurrency: int, hostile: bool,
          queue: Any) -> None:
    out: dict[str, list[Any]] = {"latencies": [], "errors": [], "refused": []}

    async def main() -> float:
        per = [total // concurrency + (k < total % concurrency) for k in range(concurrency)]
        began = time.perf_counter()
        starts = [sum(per[:k]) for k in range(concurrency)]
        await asyncio.gather(*(_client(port, bodies, n, s, hostile, out)
                               for n, s in zip(per, starts, strict=True)))
        return time.perf_counter() - began

    seconds = asyncio.run(main())
    queue.put({**out, "seconds": seconds})


def run_mixed(port: int, bodies: list[bytes], total: int, concurrency: int,
              hostile: bool) -> dict[str, Any]:
    """`total` requests (10 % hostile when `hostile`) at `concurrency`; honest figures."""
    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.Queue()
    proc = ctx.Process(target=_load, args=(port, bodies, total, concurrency, hostile, queue))
    proc.start()
    result = queue.get()
    proc.join()
    lat = sorted(result["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive")
    refused = result["refused"]
    return {"hostile": hostile, "requests": len(lat) + len(refused), "honest": len(lat),
            "honest_errors": len(result["errors"]),
            "honest_error_statuses": sorted(set(result["errors"])),
            "hostile_sent": len(refused),
            "hostile_refused_4xx_or_closed": sum(1 for s in refused if s == 0 or 400 <= s < 500),
            "hostile_statuses": sorted(set(refused)),
            "requests_per_s": round((len(lat) + len(refused)) / result["seconds"], 1),
            "p50_ms": round(q[49] * 1000, 3), "p99_ms": round(q[98] * 1000, 3)}
