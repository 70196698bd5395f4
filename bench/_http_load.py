"""The HTTP load generator and server start-up shared by bench/serving.py and its peer runs.

A minimal keep-alive HTTP/1.1 client on asyncio, run in its own process so the load does not
share the server's interpreter; `start_server` starts `lathe serve` and times it to ready.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


async def _client(
    port: int,
    bodies: list[bytes],
    path: str,
    count: int,
    latencies: list[float],
    errors: list[int],
    start: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    ).encode()
    for i in range(count):
        body = bodies[(start + i) % len(bodies)]
        request = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        began = time.perf_counter()
        writer.write(request)
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - began)
        if status != 200:
            errors.append(status)
    writer.close()


def _load(
    port: int, bodies: list[bytes], path: str, total: int, concurrency: int, out: Any
) -> None:
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        per = [
            total // concurrency + (1 if k < total % concurrency else 0) for k in range(concurrency)
        ]
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _client(port, bodies, path, n, latencies, errors, k * 7919)
                for k, n in enumerate(per)
            )
        )
        return time.perf_counter() - began

    seconds = asyncio.run(main())
    out.put({"latencies": latencies, "errors": errors, "seconds": seconds})


def run_load(
    port: int, bodies: list[bytes], path: str, total: int, concurrency: int
) -> dict[str, Any]:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(
        target=_load, args=(port, bodies, path, total, concurrency, queue)
    )
    proc.start()
    result = queue.get()
    proc.join()
    lat = sorted(result["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "errors": len(result["errors"]),
        "error_statuses": sorted(set(result["errors"])),
        "requests_per_s": round(len(lat) / result["seconds"], 1),
        "p50_ms": round(q[49] * 1000, 3),
        "p99_ms": round(q[98] * 1000, 3),
    }


# ---- the server ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait_ready(proc: subprocess.Popen, port: int, began: float, what: str) -> float:
    """Seconds from `began` until GET /readyz answers 200 (both lathe and BentoML have it)."""
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - began
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited during start-up") from None
            time.sleep(0.02)


def start_server(
    model: Path, port: int, batching: bool, log_dir: str, *, log: bool = True, workers: int = 1
) -> tuple[subprocess.Popen, float]:
    code = (
        "import sys; from lathe.cli.serve import serve; "
        "serve([sys.argv[1]], port=int(sys.argv[2]), batching=sys.argv[3] == '1', "
        "reload_every=0, prediction_log=sys.argv[4], workers=int(sys.argv[5]))"
    )
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            str(model),
            str(port),
            "1" if batching else "0",
            f"sqlite:///{log_dir}/predictions-{port}.db" if log else "",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, _wait_ready(proc, port, began, "the lathe server")
