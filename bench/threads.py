"""Training under load: `train --preset fast` alone and beside busy processes, per thread policy.

    .venv/bin/python bench/threads.py                    # examples/data/adult.csv, 3 rounds
    .venv/bin/python bench/threads.py --rounds 5 --busy 2 --data FILE --target COL
    .venv/bin/python bench/threads.py --policies before,auto

Issue 19 item 9: `fast` took 41-100 s instead of 3.3 s while another process loaded the 2
cores (LightGBM's OpenMP threads spin while they wait); target: beside two busy processes,
<= 3x its quiet time. Each fit runs in a fresh interpreter (OpenMP reads its environment
once, when it loads), and only `lathe.train` is timed (not imports or reading the file).
Policies:

  before   all cores, OMP_WAIT_POLICY=ACTIVE: what lathe did before (LightGBM num_threads=0)
  one      one thread, OMP_WAIT_POLICY=ACTIVE (the issue's OMP_NUM_THREADS=1 workaround)
  passive  all cores, OMP_WAIT_POLICY=PASSIVE
  auto     lathe's default now: threads = free cores at fit time, passive waits

"busy" starts `--busy` processes running `while True: pass` just before the fit and kills
them after it. Rounds interleave every policy and condition, so load from other jobs on a
shared machine hits them alike; the table shows medians, the busy/quiet ratio, and the load
average seen around the runs. Writes bench/results/threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "examples" / "data" / "adult.csv"

POLICIES: dict[str, tuple[str, dict[str, str]]] = {
    # name: (threads argument, environment)
    "before": ("cores", {"OMP_WAIT_POLICY": "ACTIVE"}),
    "one": ("1", {"OMP_WAIT_POLICY": "ACTIVE"}),
    "passive": ("cores", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "auto": ("None", {}),
}

FIT = """
import json, os, sys, time
import pandas as pd
import lathe
frame = pd.read_csv(sys.argv[1])
threads = sys.argv[3]
threads = None if threads == "None" else (len(os.sched_getaffinity(0)) if threads == "cores"
                                          else int(threads))
from lathe.models._threads import fit_threads
chosen = fit_threads(threads)  # what the policy picks as the fit starts
began = time.perf_counter()
model = lathe.train(frame, target=sys.argv[2], preset="fast", threads=threads, seed=0)
seconds = time.perf_counter() - began
test = model.manifest["metrics"].get("test", {})
print(json.dumps({"seconds": seconds, "auc": test.get("roc_auc"), "threads": chosen}))
"""


def _loadavg() -> float:
    return os.getloadavg()[0]


def _fit(policy: str, busy: int, data: Path, target: str) -> dict[str, Any]:
    threads, env = POLICIES[policy]
    environ = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",
                                                                 "OMP_NUM_THREADS")}
    environ.update(env)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(busy)]
    try:
        load_before = _loadavg()
        done = subprocess.run([sys.executable, "-c", FIT, str(data), target, threads],
                              env=environ, capture_output=True, text=True, check=False)
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()
    if done.returncode != 0:
        raise SystemExit(f"{policy}: the fit failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(load_before=load_before, load_after=_loadavg())
    return result


def main() -> None:
    # a SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the busy processes are killed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--target", default="income")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the fit")
    parser.add_argument("--policies", default="before,one,passive,auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "threads.json")
    args = parser.parse_args()
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise SystemExit(f"unknown policies {unknown}; choose from {sorted(POLICIES)}")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        p: {"quiet": [], "busy": []} for p in policies}
    started = time.time()
    for r in range(args.rounds):
        for policy in policies:
            for condition, busy in (("quiet", 0), ("busy", args.busy)):
                run = _fit(policy, busy, args.data, args.target)
                runs[policy][condition].append(run)
                print(f"round {r + 1} {policy:<8} {condition:<5} {run['seconds']:7.2f} s  "
                      f"AUC {run['auc']:.4f}  threads {run['threads']}  load {run['load_before']:.1f}", file=sys.stderr)
    table = {}
    for policy, by in runs.items():
        quiet = statistics.median(r["seconds"] for r in by["quiet"])
        loaded = statistics.median(r["seconds"] for r in by["busy"])
        table[policy] = {"quiet_s": round(quiet, 3), "busy_s": round(loaded, 3),
                         "ratio": round(loaded / quiet, 2),
                         "auc": statistics.median(r["auc"] for r in by["busy"] + by["quiet"])}
    loads = [r["load_before"] for by in runs.values() for c in by.values() for r in c]
    print(f"\n{'policy':<10}{'quiet s':>10}{'busy s':>10}{'busy/quiet':>12}{'AUC':>9}")
    for policy, row in table.items():
        print(f"{policy:<10}{row['quiet_s']:>10.2f}{row['busy_s']:>10.2f}{row['ratio']:>12.2f}"
              f"{row['auc']:>9.4f}")
    print(f"\n{args.rounds} rounds, {args.busy} busy processes, {len(os.sched_getaffinity(0))} "
          f"cores; 1-min load average before the runs: median {statistics.median(loads):.1f}, "
          f"range {min(loads):.1f}-{max(loads):.1f} (other jobs on the machine count too)")
    out = {"data": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT)
                       else args.data),
           "rounds": args.rounds, "busy_processes": args.busy,
           "cores": len(os.sched_getaffinity(0)), "seconds_total": round(time.time() - started),
           "load_average_before_runs": {"median": statistics.median(loads), "min": min(loads),
                                        "max": max(loads)},
           "table": table, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
