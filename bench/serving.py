"""Serving benchmark: single-row HTTP predictions against `lathe serve`, load from a second
process, batching on and off.

    .venv/bin/python bench/serving.py                       # Adult: c=1 and c=64, batching on/off
    .venv/bin/python bench/serving.py --soak 50000          # + 50,000 requests at c=64 (memory)
    .venv/bin/python bench/serving.py --model DIR           # an existing artifact instead
    .venv/bin/python bench/serving.py --text                # + Banking77 at c=1, 8, 64

Targets (issue 5): Adult p50 <= 5 ms at concurrency 1; at 64, p99 <= 50 ms and 0 errors;
start-up to ready < 3 s; 50,000 requests: 0 errors and resident memory grows < 10 %.
The load generator is a minimal keep-alive HTTP/1.1 client on asyncio (wrk is used when it is
on PATH): far cheaper per request than an HTTP library, so on 2 shared cores it leaves the
server most of the CPU. Writes bench/results/serving.json.

BentoML is not compared here: it would have to be installed in a separate venv, which this
offline workplace cannot do (see the report in bench/results/serving.json, "bentoml").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ADULT = ROOT / "examples" / "data" / "adult.csv"
ADULT_HOLDOUT = ROOT / "examples" / "data" / "adult_holdout.csv"
BANKING = ROOT / "examples" / "data" / "banking77.csv"
BANKING_HOLDOUT = ROOT / "examples" / "data" / "banking77_holdout.csv"


# ---- the load generator (runs in its own process) -------------------------------------------
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


def start_server(
    model: Path, port: int, batching: bool, log_dir: str, *, log: bool = True, workers: int = 1
) -> tuple[subprocess.Popen, float]:
    code = (
        "import sys; from lathe.serving.cli import serve; "
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
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - began
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited during start-up") from None
            time.sleep(0.02)


def _bodies(csv: Path, label: str, n: int = 500) -> list[bytes]:
    import pandas as pd

    frame = pd.read_csv(csv, nrows=n).drop(columns=[label])
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [json.dumps({"rows": [r]}, default=lambda v: v.item()).encode() for r in records]


def _train(csv: Path, label: str, target: Path) -> Path:
    import pandas as pd

    import lathe

    return lathe.train(pd.read_csv(csv), target=label, threads=2).save(target)


def bench_model(
    model: Path,
    bodies: list[bytes],
    levels: list[tuple[int, int]],
    work: str,
    soak: int = 0,
) -> dict[str, Any]:
    """Each concurrency level with batching on, then off, against a fresh server process."""
    path = f"/v1/models/{model.name}/predict"
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"model": str(model), "runs": rows}
    for batching in (True, False):
        port = _free_port()
        proc, startup = start_server(model, port, batching, work)
        try:
            report.setdefault("startup_to_ready_s", round(startup, 3))
            run_load(port, bodies, path, 200, 8)  # warm-up
            for concurrency, total in levels:
                rows.append(
                    {"batching": batching, **run_load(port, bodies, path, total, concurrency)}
                )
            if batching and soak:
                before = _rss_kb(proc.pid)
                result = run_load(port, bodies, path, soak, 64)
                after = _rss_kb(proc.pid)
                report["soak"] = {
                    **result,
                    "rss_before_mb": round(before / 1024, 1),
                    "rss_after_mb": round(after / 1024, 1),
                    "rss_growth_pct": round(100 * (after - before) / before, 2),
                }
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return report


def print_report(title: str, report: dict[str, Any]) -> None:
    print(f"\n== {title}: start-up to ready {report['startup_to_ready_s']:.2f} s (target < 3 s)")
    print(
        f"{'batching':<10}{'conc':>6}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for r in report["runs"]:
        print(
            f"{str(r['batching']):<10}{r['concurrency']:>6}{r['requests']:>10}{r['errors']:>8}"
            f"{r['requests_per_s']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
        )
    if "soak" in report:
        s = report["soak"]
        print(
            f"soak: {s['requests']} requests at c=64, {s['errors']} errors, RSS "
            f"{s['rss_before_mb']} -> {s['rss_after_mb']} MB ({s['rss_growth_pct']:+.1f} %)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an Adult artifact (default: train one)")
    parser.add_argument("--requests-c1", type=int, default=2000)
    parser.add_argument("--requests-c64", type=int, default=20000)
    parser.add_argument("--soak", type=int, default=0, help="requests at c=64 for the memory check")
    parser.add_argument("--text", action="store_true", help="also Banking77 (c=1, 8, 64)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="lathe-bench-serving-")
    model = args.model or _train(ADULT, "income", Path(work) / "adult")
    adult = bench_model(
        model,
        _bodies(ADULT_HOLDOUT, "income"),
        [(1, args.requests_c1), (64, args.requests_c64)],
        work,
        soak=args.soak,
    )
    report: dict[str, Any] = {"cpu_count": os.cpu_count(), "adult": adult}
    print_report("Adult (LightGBM), single-row requests", adult)
    c1 = next(r for r in adult["runs"] if r["batching"] and r["concurrency"] == 1)
    c64 = next(r for r in adult["runs"] if r["batching"] and r["concurrency"] == 64)
    print(
        f"target p50 <= 5 ms at c=1: {'PASS' if c1['p50_ms'] <= 5 else 'FAIL'}; "
        f"p99 <= 50 ms and 0 errors at c=64: "
        f"{'PASS' if c64['p99_ms'] <= 50 and c64['errors'] == 0 else 'FAIL'}"
    )
    if args.text:
        text_model = _train(BANKING, "category", Path(work) / "banking77")
        levels = [(1, 500), (8, 2000), (64, 4000)]
        report["banking77"] = bench_model(
            text_model, _bodies(BANKING_HOLDOUT, "category"), levels, work
        )
        print_report("Banking77 (text), single-row requests", report["banking77"])
    report["bentoml"] = "skipped: BentoML cannot be installed in its own venv offline here"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
