"""Prediction-log integrity and graceful shutdown under load, against a real `lathe serve`.

    .venv/bin/python bench/predlog.py                      # both parts, defaults below
    .venv/bin/python bench/predlog.py --requests 5000 --trials 5      # quicker

Part 1 (issue 19, item 1): N requests at c=64, clean (honest only) and mixed (1 % of them
share one X-Request-ID, 10 % hostile: malformed JSON, wrong types, oversized bodies, unknown
models, bad feedback), in alternating rounds against fresh servers. Every answered (200)
request must be in the log or counted in lathe_prediction_log_dropped_total; the honest p99
of the mixed run is compared with the clean run's (target <= 1.5x).

Part 2 (item 3): SIGTERM at a random moment of a c=64 run, T trials: connection resets must
be 0, every answered request logged, the server must exit 0. Refused connections (the
listening socket is closed) are expected and reported.

The load generator is a keep-alive HTTP/1.1 client on asyncio in its own process (as in
bench/serving.py). Only 127.0.0.1; every loop is bounded in count and time. Writes
bench/results/predlog.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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
RESULTS = ROOT / "bench" / "results"
ADULT = ROOT / "examples" / "data" / "adult.csv"
ADULT_HOLDOUT = ROOT / "examples" / "data" / "adult_holdout.csv"
BODY_LIMIT = 65_536


# ---- requests --------------------------------------------------------------------------------
def _rows(n: int = 2000) -> list[dict[str, Any]]:
    import pandas as pd

    frame = pd.read_csv(ADULT_HOLDOUT, nrows=n).drop(columns=["income"])
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]


def _plan(total: int, mixed: bool, seed: int) -> list[tuple[str, str, bytes, str]]:
    """(kind, path, raw request head+body) for each request: kind honest | shared | hostile."""
    rng = random.Random(seed)
    rows = _rows()
    out = []
    for i in range(total):
        row = rows[i % len(rows)]
        path, extra, kind = "/v1/models/adult/predict", "", "honest"
        body = json.dumps({"rows": [row]}).encode()
        roll = rng.random() if mixed else 1.0
        if roll < 0.01:
            kind, extra = "shared", "X-Request-ID: shared-client-id\r\n"
        elif roll < 0.11:
            kind = "hostile"
            which = i % 7
            if which == 0:
                body = b'{"rows": [{"age": 41,'
            elif which == 1:
                body = json.dumps({"rows": [dict(row, age="forty")]}).encode()
            elif which == 2:
                body = json.dumps({"rows": [row] * 400}).encode()  # ~ 100 KB > 64 KB
            elif which == 3:
                path = "/v1/models/nosuchmodel/predict"
            elif which == 4:
                path = "/v1/feedback"
                body = json.dumps(
                    {"request_id": "shared-client-id", "outcome": "x" * 50_000}
                ).encode()
            elif which == 5:
                path = "/v1/feedback"
                body = json.dumps({"request_id": "shared-client-id", "outcome": ">50K"}).encode()
            else:
                body = json.dumps({"rows": "not a list"}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append((kind, path, head + body))
    return out


# ---- the load generator (own process) ---------------------------------------------------------
async def _client(port: int, plan: list, mine: list[int], out: dict, deadline: float) -> None:
    conn: tuple[Any, Any] | None = None
    for index in mine:
        if time.monotonic() > deadline:
            break
        kind, path, request = plan[index]
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length, close = 0, False
            for line in header.split(b"\r\n"):
                low = line.lower()
                if low.startswith(b"content-length:"):
                    length = int(line[15:])
                elif low.startswith(b"connection:") and b"close" in low:
                    close = True
            payload = await reader.readexactly(length)
            elapsed = time.perf_counter() - began
            out["status"][status] = out["status"].get(status, 0) + 1
            if kind != "hostile":
                out["latency"].append(elapsed)
            if status == 200 and path.endswith("/predict"):
                out["ids"].append(json.loads(payload)["request_id"])
            if close:
                writer.close()
                conn = None
        except ConnectionRefusedError:
            out["refused"] += 1
            return  # the server has gone: its listening socket is closed
        except ConnectionResetError:
            out["reset"] += 1
            conn = None
        except (asyncio.IncompleteReadError, BrokenPipeError):
            out["closed_unanswered"] += 1
            conn = None
    if conn is not None:
        conn[1].close()


def _load(port: int, plan: list, concurrency: int, limit_s: float, queue: Any) -> None:
    out: dict[str, Any] = {
        "status": {}, "latency": [], "ids": [], "refused": 0, "reset": 0, "closed_unanswered": 0,
    }  # fmt: skip

    async def main() -> float:
        began = time.perf_counter()
        deadline = time.monotonic() + limit_s
        shares = [list(range(k, len(plan), concurrency)) for k in range(concurrency)]
        await asyncio.gather(*(_client(port, plan, s, out, deadline) for s in shares))
        return time.perf_counter() - began

    out["seconds"] = asyncio.run(main())
    queue.put(out)


def start_load(port: int, plan: list, concurrency: int, limit_s: float) -> tuple[Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_load, args=(port, plan, concurrency, limit_s, queue))
    proc.start()
    return proc, queue


# ---- the server --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: Path, port: int, log_url: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lathe.cli", "serve", str(model), "--port", str(port),
         "--prediction-log", log_url, "--reload-every", "0", "--max-body-bytes", str(BODY_LIMIT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    import urllib.request

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("server exited during start-up: " + proc.stderr.read()) from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not become ready in 180 s")


def _dropped(port: int) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("lathe_prediction_log_dropped_total "):
                return float(line.split()[1])
    raise RuntimeError("lathe_prediction_log_dropped_total is not on /metrics")


def _logged(db: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT request_id FROM predictions")}


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _quantile(values: list[float], q: int) -> float:
    return round(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1] * 1000, 2)


def integrity_run(model: Path, work: Path, total: int, mixed: bool, seed: int) -> dict[str, Any]:
    port = _free_port()
    db = work / f"log-{port}.db"
    proc = start_server(model, port, f"sqlite:///{db}")
    try:
        loader, queue = start_load(port, _plan(total, mixed, seed), 64, limit_s=600)
        out = queue.get(timeout=900)
        loader.join()
        dropped = _dropped(port)
    finally:
        code = _stop(proc)
    logged = _logged(db)
    answered = set(out["ids"])
    missing = answered - logged
    return {
        "run": "mixed" if mixed else "clean",
        "requests": sum(out["status"].values()),
        "answered_200": len(out["ids"]),
        "statuses": {str(k): v for k, v in sorted(out["status"].items())},
        "logged_rows": len(logged),
        "missing_from_log": len(missing),
        "dropped_metric": dropped,
        "every_answer_logged_or_counted": len(missing) <= dropped and len(logged) == len(answered),
        "honest_p50_ms": _quantile(out["latency"], 50),
        "honest_p99_ms": _quantile(out["latency"], 99),
        "requests_per_s": round(sum(out["status"].values()) / out["seconds"], 1),
        "resets": out["reset"],
        "exit_code": code,
    }


def sigterm_trial(model: Path, work: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    port = _free_port()
    db = work / f"term-{port}.db"
    proc = start_server(model, port, f"sqlite:///{db}")
    code = None
    try:
        loader, queue = start_load(port, _plan(200_000, False, seed), 64, limit_s=60)
        time.sleep(0.5)  # the load process is starting (spawn) ...
        delay = rng.uniform(0.3, 2.5)  # ... then a random moment of the run
        time.sleep(delay)
        code = _stop(proc)
        out = queue.get(timeout=120)
        loader.join()
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = _logged(db)
    answered = set(out["ids"])
    return {
        "sigterm_after_s": round(0.5 + delay, 2),
        "answered_200": len(answered),
        "logged_rows": len(logged),
        "answered_not_logged": len(answered - logged),
        "resets": out["reset"],
        "closed_unanswered": out["closed_unanswered"],
        "refused_after_close": out["refused"],
        "exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            import pandas as pd

            import lathe

            model = lathe.train(pd.read_csv(ADULT), target="income", threads=2).save(work / "adult")
        runs = []
        for r in range(args.rounds):
            for mixed in (False, True):
                runs.append(integrity_run(model, work, args.requests, mixed, seed=r))
                print(json.dumps(runs[-1]), flush=True)
        trials = []
        for t in range(args.trials):
            trials.append(sigterm_trial(model, work, seed=1000 + t))
            print(json.dumps(trials[-1]), flush=True)
    clean = statistics.median(r["honest_p99_ms"] for r in runs if r["run"] == "clean")
    mixed = statistics.median(r["honest_p99_ms"] for r in runs if r["run"] == "mixed")
    report = {
        "machine": f"{os.cpu_count()} cores, shared with other jobs during the run",
        "requests_per_run": args.requests,
        "runs": runs,
        "honest_p99_ms_clean_median": clean,
        "honest_p99_ms_mixed_median": mixed,
        "p99_ratio_mixed_over_clean": round(mixed / clean, 3),
        "all_runs_logged_or_counted": all(r["every_answer_logged_or_counted"] for r in runs),
        "sigterm_trials": trials,
        "sigterm_total_resets": sum(t["resets"] for t in trials),
        "sigterm_total_closed_unanswered": sum(t["closed_unanswered"] for t in trials),
        "sigterm_total_answered_not_logged": sum(t["answered_not_logged"] for t in trials),
        "sigterm_exit_codes": sorted({t["exit_code"] for t in trials}),
    }
    print("\nrun    requests  200s   logged  missing  dropped  p50 ms  p99 ms  req/s")
    for r in runs:
        print(f"{r['run']:<6} {r['requests']:>8} {r['answered_200']:>5} {r['logged_rows']:>8} "
              f"{r['missing_from_log']:>8} {r['dropped_metric']:>8.0f} {r['honest_p50_ms']:>7} "
              f"{r['honest_p99_ms']:>7} {r['requests_per_s']:>6}")  # fmt: skip
    print(f"honest p99 mixed/clean = {report['p99_ratio_mixed_over_clean']} (target <= 1.5)")
    print(f"SIGTERM: {len(trials)} trials, resets {report['sigterm_total_resets']}, closed "
          f"unanswered {report['sigterm_total_closed_unanswered']}, answered but not logged "
          f"{report['sigterm_total_answered_not_logged']}, exit codes "
          f"{report['sigterm_exit_codes']}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "predlog.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
