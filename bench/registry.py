"""Registry benchmark: speed with 1,000 versions, and SIGKILL crash safety.

For each backend (SQLite always; PostgreSQL when a server answers at LATHE_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/test, in a throw-away schema):

1. register 1,000 versions of small fake artifacts under one name, promote a champion;
2. time `list(name)` (all 1,000 records), alias resolution `resolve("m@champion")`, and
   `resolve_model_ref("m@champion")` (open the store + re-verify the checkout) — medians;
3. SIGKILL a process busy registering / promoting / rolling back / deleting at a random
   moment, N times, and count the states that fail `check_consistency()` (dangling alias,
   incomplete blobs, audit disagreeing with the state, SQLite integrity).

Targets (SQLite): list and alias resolution medians < 50 ms; 0 inconsistent states.

Run (from the repository root):

    .venv/bin/python bench/registry.py                 # 1,000 versions, 100 kills per backend
    .venv/bin/python bench/registry.py --versions 200 --kills 10 --no-postgres

>>> _median_ms([0.001, 0.003, 0.002])
2.0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "registry.json"
PG_SERVER = os.environ.get("LATHE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_MS = 50.0


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _time(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm caches and connection pools
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def _postgres_schema_url() -> tuple[str, Callable[[], None]] | None:
    try:
        import psycopg

        with psycopg.connect(PG_SERVER, connect_timeout=2):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure: report and skip the backend
        print(f"PostgreSQL skipped: no server at {PG_SERVER} ({exc})", file=sys.stderr)
        return None
    import sqlalchemy as sa

    schema = f"lathe_bench_{uuid.uuid4().hex[:10]}"

    def drop() -> None:
        engine = sa.create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()

    return f"{PG_SERVER}?schema={schema}", drop


def bench_backend(
    name: str, url: str, kill_url: str, work: Path, versions: int, kills: int
) -> dict[str, Any]:
    from lathe.registry import open_registry, resolve_model_ref
    from lathe.registry.testing import fake_artifact, kill_trials

    blobs = work / f"{name}-blobs"
    result: dict[str, Any] = {"backend": name, "versions": versions}
    with open_registry(url, blobs) as registry:
        sources = [fake_artifact(work / f"{name}-src" / str(i), seed=i) for i in range(versions)]
        started = time.perf_counter()
        for path in sources:
            registry.register(path, name="m")
        result["register_ms_per_version"] = round(
            (time.perf_counter() - started) / versions * 1000, 3
        )
        registry.promote("m", versions // 2, force=True, reason="bench")
        registry.promote("m", versions, alias="challenger")
        assert len(registry.list("m")) == versions
        result["list_ms"] = _median_ms(_time(lambda: registry.list("m"), 30))
        result["resolve_alias_ms"] = _median_ms(_time(lambda: registry.resolve("m@champion"), 200))
        cycle = iter(range(10_000))
        result["promote_ms"] = _median_ms(
            _time(
                lambda: registry.promote(
                    "m", versions - 1 - next(cycle) % 5, force=True, reason="bench"
                ),
                20,
            )
        )
    result["resolve_model_ref_ms"] = _median_ms(
        _time(lambda: resolve_model_ref("m@champion", url, str(blobs)), 20)
    )
    if kills:
        started = time.perf_counter()
        trials = kill_trials(kill_url, work / f"{name}-kill-blobs", kills, seed=11)
        result["kill_trials"] = kills
        result["kill_seconds"] = round(time.perf_counter() - started, 1)
        result["inconsistent_states"] = sum(bool(t["problems"]) for t in trials)
        result["problems"] = [t["problems"] for t in trials if t["problems"]][:5]
        result["versions_after_kills"] = trials[-1]["versions"]
        # kills that landed while a blob was half-written (the rest hit the database,
        # the alias moves or the gaps between operations)
        result["kills_mid_blob_write"] = sum(
            t["partial_blobs_left"] > trials[max(i - 1, 0)]["partial_blobs_left"]
            or (i == 0 and t["partial_blobs_left"] > 0)
            for i, t in enumerate(trials)
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        rows.append(
            bench_backend(
                "sqlite",
                f"sqlite:///{work}/lathe.db",
                f"sqlite:///{work}/kills.db",
                work,
                args.versions,
                args.kills,
            )
        )
        pg = None if args.no_postgres else _postgres_schema_url()
        if pg is not None:
            url, drop = pg
            kill_url = url.replace("?schema=", "?schema=k")  # a second, separate schema
            try:
                rows.append(
                    bench_backend("postgresql", url, kill_url, work, args.versions, args.kills)
                )
            finally:
                drop()
                _drop_schema(kill_url)

    sqlite = rows[0]
    targets = {
        "list_ms < 50 (sqlite)": sqlite["list_ms"] < TARGET_MS,
        "resolve_alias_ms < 50 (sqlite)": sqlite["resolve_alias_ms"] < TARGET_MS,
        "0 inconsistent states after SIGKILL": all(
            r.get("inconsistent_states", 0) == 0 for r in rows
        ),
    }
    _print_table(rows, targets)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "registry",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "results": rows,
        "targets": targets,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0 if all(targets.values()) else 1


def _drop_schema(url: str) -> None:
    import sqlalchemy as sa

    schema = url.rsplit("?schema=", 1)[1]
    engine = sa.create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def _print_table(rows: list[dict[str, Any]], targets: dict[str, bool]) -> None:
    keys = [
        ("versions", "versions registered"),
        ("register_ms_per_version", "register, ms/version"),
        ("list_ms", "list 1 name (all versions), median ms"),
        ("resolve_alias_ms", "resolve NAME@champion, median ms"),
        ("resolve_model_ref_ms", "resolve_model_ref (open + verify), median ms"),
        ("promote_ms", "promote (forced), median ms"),
        ("kill_trials", "SIGKILL trials"),
        ("inconsistent_states", "inconsistent states after kills"),
        ("kills_mid_blob_write", "kills that left a partial blob"),
        ("kill_seconds", "kill trials, total s"),
    ]
    width = max(len(label) for _, label in keys)
    print(f"{'':{width}}  " + "  ".join(f"{r['backend']:>12}" for r in rows))
    for key, label in keys:
        print(f"{label:{width}}  " + "  ".join(f"{r.get(key, '—')!s:>12}" for r in rows))
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")


if __name__ == "__main__":
    sys.exit(main())
