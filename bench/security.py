"""Security benchmark: what signatures and encryption cost, and what hostile input finds.

1. **Load cost**: `lathe.load` of a ~30 MB artifact (gbm, ~1,250 trees of up to 255 leaves
   on Adult) from an encrypted registry under a trust policy (decrypt + authenticate every chunk,
   re-hash every file, check the Ed25519 signature) against the same load from a plain
   registry (verify the cached checkout's hashes); also a signed directory vs a plain one.
   Alternating runs, medians; target <= 1.2x.
2. **Tampering**: one bit flipped at 200 random positions of encrypted blobs, and at 200 of
   a signed artifact's files (manifest included): refused / loaded. Target 200/200, 0.
3. **Fuzzing**: Schemathesis over every endpoint of a real `lathe serve` (with an API key),
   >= 10,000 requests: 5xx, stack traces, 4xx outside the error shape; the server's RSS
   before and after. Target 0, 0, 0, within 10 %.
4. **Hostile mix**: 50,000 requests at concurrency 64, clean and with 10 % hostile (wrong
   keys, bodies over the limit, broken JSON) on their own connections: honest errors and
   p99. Target 0 errors, p99 within 1.5x of the clean run.

Run (from the repository root; trains the 30 MB model once into --work, ~3 min here):

    .venv/bin/python bench/security.py --work /tmp/lathe-security-bench
    .venv/bin/python bench/security.py --fuzz-requests 1000 --load-requests 5000 --quick

>>> _ratio(1.2, 1.0)
1.2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "security.json"
ADULT = ROOT / "examples" / "data" / "adult.csv"
BIG = {"n_estimators": 2500, "early_stopping_rounds": 300, "num_leaves": 255,
       "min_child_samples": 2, "learning_rate": 0.0042}  # ~1,250 kept trees: ~30 MB


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def _size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def _env(**values: str | None) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def prepare(work: Path, quick: bool) -> dict[str, Path]:
    """Keys, the big and the small model (trained once, kept in `work`), signed copies."""
    import pandas as pd

    import lathe
    from lathe.security.keys import new_encryption_key, new_signing_key
    from lathe.security.signing import sign_artifact

    work.mkdir(parents=True, exist_ok=True)
    paths = {"sign": work / "ci.key", "enc": work / "enc.key"}
    if not paths["sign"].exists():
        new_signing_key(paths["sign"])
    if not paths["enc"].exists():
        new_encryption_key(paths["enc"])
    frame = pd.read_csv(ADULT)
    big = work / ("big-quick" if quick else "big")
    if not (big / "manifest.json").exists():
        params = {**BIG, "n_estimators": 300} if quick else BIG
        began = time.perf_counter()
        lathe.train(frame, target="income", model="gbm", params=params, refit=False,
                    threads=2, out=big, force=True)
        print(f"trained {big} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    small = work / "small"
    if not (small / "manifest.json").exists():
        lathe.train(frame.head(2000), target="income", model="gbm", preset="fast",
                    threads=1, out=small, force=True)
    for name, src in (("big_signed", big), ("small_signed", small)):
        dst = work / name
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        sign_artifact(dst, paths["sign"])
        paths[name] = dst
    return {**paths, "big": big, "small": small}


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def load_cost(p: dict[str, Path], work: Path, repeats: int) -> dict[str, Any]:
    from lathe.registry import load_model, open_registry

    pub = str(p["sign"]) + ".pub"
    plain_store, enc_store = f"sqlite:///{work}/plain/lathe.db", f"sqlite:///{work}/enc/lathe.db"
    for folder in ("plain", "enc"):
        shutil.rmtree(work / folder, ignore_errors=True)
    _env(LATHE_ENCRYPTION_KEY_FILE=None, LATHE_TRUSTED_KEYS=None)
    with open_registry(plain_store) as reg:
        reg.register(p["big"], name="big")
    _env(LATHE_ENCRYPTION_KEY_FILE=str(p["enc"]))
    with open_registry(enc_store) as reg:
        reg.register(p["big_signed"], name="big")
    cases = {
        "registry_plain": (lambda: load_model("big:1", store=plain_store), None, None),
        "registry_encrypted_signed": (lambda: load_model("big:1", store=enc_store),
                                      str(p["enc"]), pub),
        "dir_plain": (lambda: load_model(p["big"]), None, None),
        "dir_signed_trusted": (lambda: load_model(p["big_signed"]), None, pub),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for round_ in range(repeats + 1):  # round 0 warms up (first checkout, imports)
        for name, (fn, enc, trusted) in cases.items():
            _env(LATHE_ENCRYPTION_KEY_FILE=enc, LATHE_TRUSTED_KEYS=trusted)
            seconds = _timed(fn)
            if round_:
                times[name].append(seconds)
    _env(LATHE_ENCRYPTION_KEY_FILE=None, LATHE_TRUSTED_KEYS=None)
    med = {k: round(statistics.median(v), 4) for k, v in times.items()}
    return {"artifact_mb": _size_mb(p["big"]), "repeats": repeats, "median_s": med,
            "all_s": {k: [round(x, 4) for x in v] for k, v in times.items()},
            "ratio_registry": _ratio(med["registry_encrypted_signed"], med["registry_plain"]),
            "ratio_dir": _ratio(med["dir_signed_trusted"], med["dir_plain"])}


def _flip(path: Path, rng: random.Random) -> bytes:
    original = path.read_bytes()
    data = bytearray(original)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return original


def tampering(p: dict[str, Path], work: Path, flips: int) -> dict[str, Any]:
    from lathe.errors import LatheError
    from lathe.registry import load_model, open_registry

    rng = random.Random(2026)
    store = f"sqlite:///{work}/tamper/lathe.db"
    shutil.rmtree(work / "tamper", ignore_errors=True)
    _env(LATHE_ENCRYPTION_KEY_FILE=str(p["enc"]), LATHE_TRUSTED_KEYS=str(p["sign"]) + ".pub")
    with open_registry(store) as reg:
        reg.register(p["small_signed"], name="m")
        blobs = sorted(x for x in (reg.blobs.root / "sha256").rglob("*") if x.is_file())
    out: dict[str, Any] = {}
    for what, files, load in (
        ("encrypted_blob", blobs, lambda: load_model("m:1", store=store)),
        ("signed_artifact", sorted(x for x in p["small_signed"].rglob("*") if x.is_file()),
         lambda: load_model(p["small_signed"])),
    ):
        refused = loaded = 0
        for _ in range(flips):
            victim = rng.choice(files)
            original = _flip(victim, rng)
            try:
                load()
                loaded += 1
            except LatheError:
                refused += 1
            victim.write_bytes(original)
        load()  # restored: loads again
        out[what] = {"flips": flips, "refused": refused, "loaded": loaded}
    _env(LATHE_ENCRYPTION_KEY_FILE=None, LATHE_TRUSTED_KEYS=None)
    return out


def traffic(p: dict[str, Path], work: Path, fuzz_requests: int, load_requests: int,
            concurrency: int) -> dict[str, Any]:
    import _security_traffic as t
    import pandas as pd

    served = work / "served" / "m"
    shutil.rmtree(served.parent, ignore_errors=True)
    shutil.copytree(p["small"], served)
    port = t.free_port()
    proc = t.start_server(served, work, port)
    out: dict[str, Any] = {}
    try:
        before = t.rss_kb(proc.pid)
        if fuzz_requests:
            out["fuzz"] = t.fuzz(f"http://127.0.0.1:{port}", "m", fuzz_requests)
            out["fuzz"].update(rss_before_kb=before, rss_after_kb=t.rss_kb(proc.pid))
            out["fuzz"]["rss_ratio"] = _ratio(out["fuzz"]["rss_after_kb"], before)
        if load_requests:
            rows = pd.read_csv(ROOT / "examples" / "data" / "adult_holdout.csv", nrows=200)
            rows = rows.drop(columns=["income"])
            bodies = [json.dumps({"rows": [r]}).encode()
                      for r in json.loads(rows.to_json(orient="records"))]
            t.run_mixed(port, bodies, 2000, concurrency, False)  # warm-up
            clean = t.run_mixed(port, bodies, load_requests, concurrency, False)
            mixed = t.run_mixed(port, bodies, load_requests, concurrency, True)
            out["load"] = {"clean": clean, "hostile_10pct": mixed,
                           "p99_ratio": _ratio(mixed["p99_ms"], clean["p99_ms"])}
            out["load"]["rss_after_kb"] = t.rss_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/lathe-security-bench"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--flips", type=int, default=200)
    parser.add_argument("--fuzz-requests", type=int, default=10_000)
    parser.add_argument("--load-requests", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a 300-tree model (smoke run)")
    parser.add_argument("--parts", default="load,tampering,traffic",
                        help="comma-separated: load, tampering, traffic (others are kept "
                        "from the existing --out file)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    p = prepare(args.work, args.quick)
    parts = set(args.parts.split(","))
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    if "load" in parts:
        result["load"] = load_cost(p, args.work, args.repeats)
        print(json.dumps(result["load"]["median_s"]), result["load"]["ratio_registry"],
              file=sys.stderr)
    if "tampering" in parts:
        result["tampering"] = tampering(p, args.work, args.flips)
        print(json.dumps(result["tampering"]), file=sys.stderr)
    if "traffic" in parts:
        result.setdefault("traffic", {}).update(traffic(  # a part left out (0) is kept
            p, args.work, args.fuzz_requests, args.load_requests, args.concurrency))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return 0


def _print(r: dict[str, Any]) -> None:
    load = r["load"]
    print(f"load of a {load['artifact_mb']} MB artifact, medians of {load['repeats']}:")
    for name, seconds in load["median_s"].items():
        print(f"  {name:<28} {seconds:8.3f} s")
    print(f"  encrypted+signed / plain registry: {load['ratio_registry']}x;  "
          f"signed dir / plain dir: {load['ratio_dir']}x")
    for what, t in r["tampering"].items():
        print(f"tampering {what:<16} {t['refused']}/{t['flips']} refused, {t['loaded']} loaded")
    traffic = r["traffic"]
    if "fuzz" in traffic:
        f = traffic["fuzz"]
        print(f"schemathesis: {f['requests']} requests over {f['operations']} operations, "
              f"{f['server_errors']} 5xx, {f['problem_count']} problems, RSS ratio "
              f"{f['rss_ratio']} ({f['seconds']} s)")
    if "load" in traffic:
        c, m = traffic["load"]["clean"], traffic["load"]["hostile_10pct"]
        print(f"clean:   {c['requests']} req, honest errors {c['honest_errors']}, p50 "
              f"{c['p50_ms']} ms, p99 {c['p99_ms']} ms, {c['requests_per_s']} req/s")
        print(f"hostile: {m['requests']} req ({m['hostile_sent']} hostile, "
              f"{m['hostile_refused_4xx_or_closed']} refused), honest errors "
              f"{m['honest_errors']}, p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms; p99 ratio "
              f"{traffic['load']['p99_ratio']}")


if __name__ == "__main__":
    sys.exit(main())
