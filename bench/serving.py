"""Serving benchmark: single-row HTTP predictions against `lathe serve`, load from a second
process, batching on and off.

    .venv/bin/python bench/serving.py                       # Adult: c=1 and c=64, batching on/off
    .venv/bin/python bench/serving.py --soak 50000          # + 50,000 requests at c=64 (memory)
    .venv/bin/python bench/serving.py --model DIR           # an existing artifact instead
    .venv/bin/python bench/serving.py --text                # + Banking77 at c=1, 8, 64
    .venv/bin/python bench/serving.py --peer bentoml --peer-only   # lathe vs BentoML, c=1, 8, 64

Targets (issue 5): Adult p50 <= 5 ms at concurrency 1; at 64, p99 <= 50 ms and 0 errors;
start-up to ready < 3 s; 50,000 requests: 0 errors and resident memory grows < 10 %.
The load generator is a minimal keep-alive HTTP/1.1 client on asyncio (wrk is used when it is
on PATH): far cheaper per request than an HTTP library, so on 2 shared cores it leaves the
server most of the CPU. Writes bench/results/serving.json; sections a run does not measure
(e.g. banking77 without --text) are kept from the previous file.

`--peer bentoml` serves the same LightGBM booster with BentoML (bench/peers/bentoml_service.py)
from BentoML's own venv, never lathe's: python3.11 -m venv /tmp/bento &&
/tmp/bento/bin/pip install bentoml lightgbm pandas scikit-learn. Both servers get the same
rows from the same load generator at c=1, 8 and 64, in interleaved rounds (so contention from
other jobs hits both alike); the table shows medians over rounds and lathe/BentoML ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
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


from _http_load import _free_port, _rss_kb, _wait_ready, run_load, start_server  # noqa: E402


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


# ---- a peer: BentoML in its own venv, serving the same booster ----------------------------
PEERS = ROOT / "bench" / "peers"
PEER_LEVELS = (1, 8, 64)
BENTOML_VENV_HINT = (
    "python3.11 -m venv /tmp/bento && /tmp/bento/bin/pip install bentoml lightgbm pandas "
    "scikit-learn"
)


def start_bentoml(python: Path, model: Path, port: int) -> tuple[subprocess.Popen, float]:
    """`bentoml serve` of bench/peers/bentoml_service.py with BentoML's own interpreter, in a
    process group of its own (BentoML starts worker processes; `_stop` ends them all)."""
    env = {
        **os.environ,
        "LATHE_BENCH_ARTIFACT": str(model),
        # no usage statistics to BentoML's servers: the benchmark talks to localhost only
        "BENTOML_DO_NOT_TRACK": "True",
    }
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(python),
            "-m",
            "bentoml",
            "serve",
            "bentoml_service:LatheArtifactGBM",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--working-dir",
            str(PEERS),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return proc, _wait_ready(proc, port, began, "the BentoML server")
    except BaseException:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _peer_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, platform, bentoml, lightgbm; print(json.dumps({'python': "
        "platform.python_version(), 'bentoml': bentoml.__version__, "
        "'lightgbm': lightgbm.__version__}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for system in dict.fromkeys(r["system"] for r in runs):
        for level in PEER_LEVELS:
            mine = [r for r in runs if r["system"] == system and r["concurrency"] == level]
            table.append(
                {
                    "system": system,
                    "concurrency": level,
                    "rounds": len(mine),
                    "errors": sum(r["errors"] for r in mine),
                    **{
                        key: round(statistics.median(r[key] for r in mine), 3)
                        for key in ("requests_per_s", "p50_ms", "p99_ms")
                    },
                }
            )
    return table


def _ratios(medians: list[dict[str, Any]], peer: str) -> list[dict[str, Any]]:
    """lathe / peer per level: > 1 is better for req/s, < 1 is better for latencies."""
    by = {(m["system"], m["concurrency"]): m for m in medians}
    return [
        {
            "concurrency": level,
            **{
                key: round(by[("lathe", level)][key] / by[(peer, level)][key], 3)
                for key in ("requests_per_s", "p50_ms", "p99_ms")
            },
        }
        for level in PEER_LEVELS
    ]


def compare_with_bentoml(
    model: Path,
    bodies: list[bytes],
    python: Path,
    requests: dict[int, int],
    rounds: int,
    work: str,
) -> dict[str, Any]:
    """lathe serve (its defaults: micro-batching, prediction log) against BentoML's plain API
    and its adaptive-batching API, same rows and load generator, interleaved rounds."""
    if not python.exists():
        message = f"skipped: no BentoML interpreter at {python}; create it with {BENTOML_VENV_HINT}"
        print(message)
        return {"skipped": message}
    versions = _peer_versions(python)
    load_before = os.getloadavg()[0]
    lathe_port, bento_port = _free_port(), _free_port()
    lathe_proc, lathe_startup = start_server(model, lathe_port, True, work)
    try:
        bento_proc, bento_startup = start_bentoml(python, model, bento_port)
    except BaseException:
        lathe_proc.terminate()
        lathe_proc.wait(timeout=15)
        raise
    systems = {
        "lathe": (lathe_port, f"/v1/models/{model.name}/predict"),
        "bentoml": (bento_port, "/predict"),
        "bentoml_batching": (bento_port, "/predict_batched"),
    }
    runs: list[dict[str, Any]] = []
    try:
        for port, path in systems.values():
            run_load(port, bodies, path, 200, 8)  # warm-up
        names = list(systems)
        for round_ in range(rounds):
            for level in PEER_LEVELS:
                # rotate who goes first, so a burst of outside load does not always hit one
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    port, path = systems[name]
                    result = run_load(port, bodies, path, requests[level], level)
                    runs.append({"system": name, "round": round_, **result})
    finally:
        _stop(bento_proc)
        lathe_proc.terminate()
        lathe_proc.wait(timeout=15)
    medians = _medians(runs)
    return {
        "model": str(model),
        "peer_environment": {"interpreter": str(python), **versions},
        "setup": {
            "lathe": "lathe serve, 1 worker, micro-batching on, prediction log to sqlite "
            "(its defaults)",
            "bentoml": "bentoml serve, 1 worker, sync @bentoml.api (1 thread), access log "
            "(its defaults)",
            "bentoml_batching": "the same server, @bentoml.api(batchable=True) adaptive batching",
            "encoding": "both encode rows into the booster's float matrix the same way and call "
            "it on one thread",
        },
        # 1-minute load average: the benchmark itself keeps ~2 cores busy; more is other jobs
        "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "startup_to_ready_s": {
            "lathe": round(lathe_startup, 3),
            "bentoml": round(bento_startup, 3),
        },
        "requests_per_level": {str(k): v for k, v in requests.items()},
        "rounds": rounds,
        "runs": runs,
        "medians": medians,
        "ratio_lathe_over": {
            peer: _ratios(medians, peer) for peer in ("bentoml", "bentoml_batching")
        },
    }


def print_peer_report(report: dict[str, Any]) -> None:
    if "skipped" in report:
        return
    env = report["peer_environment"]
    print(
        f"\n== lathe vs BentoML {env['bentoml']} (own venv, python {env['python']}), Adult "
        f"single-row requests, medians of {report['rounds']} interleaved rounds"
    )
    start = report["startup_to_ready_s"]
    print(f"start-up to ready: lathe {start['lathe']:.2f} s, BentoML {start['bentoml']:.2f} s")
    print(f"{'system':<18}{'conc':>6}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for m in report["medians"]:
        print(
            f"{m['system']:<18}{m['concurrency']:>6}{m['errors']:>8}{m['requests_per_s']:>10.0f}"
            f"{m['p50_ms']:>9.2f}{m['p99_ms']:>9.2f}"
        )
    for peer, rows in report["ratio_lathe_over"].items():
        cells = ", ".join(
            f"c={r['concurrency']}: req/s x{r['requests_per_s']:.2f}, p50 x{r['p50_ms']:.2f}, "
            f"p99 x{r['p99_ms']:.2f}"
            for r in rows
        )
        print(f"lathe / {peer}: {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an Adult artifact (default: train one)")
    parser.add_argument("--requests-c1", type=int, default=2000)
    parser.add_argument("--requests-c8", type=int, default=5000, help="(peer comparison)")
    parser.add_argument("--requests-c64", type=int, default=20000)
    parser.add_argument("--soak", type=int, default=0, help="requests at c=64 for the memory check")
    parser.add_argument("--text", action="store_true", help="also Banking77 (c=1, 8, 64)")
    parser.add_argument("--peer", choices=["bentoml"], help="also compare with a peer server")
    parser.add_argument(
        "--peer-python",
        type=Path,
        default=Path("/tmp/bento/bin/python"),
        help="the peer venv's interpreter (BentoML is never installed into lathe's venv)",
    )
    parser.add_argument("--peer-rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument(
        "--peer-only", action="store_true", help="skip lathe's own batching on/off runs"
    )
    args = parser.parse_args()
    if args.peer_only and not args.peer:
        parser.error("--peer-only needs --peer")
    work = tempfile.mkdtemp(prefix="lathe-bench-serving-")
    model = args.model or _train(ADULT, "income", Path(work) / "adult")
    adult_bodies = _bodies(ADULT_HOLDOUT, "income")
    report: dict[str, Any] = {"cpu_count": os.cpu_count()}
    if not args.peer_only:
        adult = bench_model(
            model,
            adult_bodies,
            [(1, args.requests_c1), (64, args.requests_c64)],
            work,
            soak=args.soak,
        )
        report["adult"] = adult
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
    if args.peer == "bentoml":
        requests = {1: args.requests_c1, 8: args.requests_c8, 64: args.requests_c64}
        report["bentoml"] = compare_with_bentoml(
            model, adult_bodies, args.peer_python, requests, args.peer_rounds, work
        )
        print_peer_report(report["bentoml"])
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "serving.json"
    previous = json.loads(target.read_text()) if target.exists() else {}
    # a skipped section does not replace a measured one from an earlier run
    fresh = {
        k: v
        for k, v in report.items()
        if not (isinstance(v, dict) and "skipped" in v and k in previous)
    }
    target.write_text(json.dumps({**previous, **fresh}, indent=2) + "\n")


if __name__ == "__main__":
    main()
