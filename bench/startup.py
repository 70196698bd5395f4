"""How fast does `lathe --help` answer? Median of N runs, against `python -c pass`.

    .venv/bin/python bench/startup.py --runs 15

Target (issue 2): `lathe --help` < 0.5 s. Writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    lathe = str(Path(sys.executable).with_name("lathe"))
    rows = {
        "python -c pass (baseline)": _median_seconds([sys.executable, "-c", "pass"], args.runs),
        "lathe --help": _median_seconds([lathe, "--help"], args.runs),
        "lathe train --help": _median_seconds([lathe, "train", "--help"], args.runs),
    }
    base = rows["python -c pass (baseline)"]
    print(f"{'command':<28}{'median s':>10}{'x baseline':>12}")
    for name, seconds in rows.items():
        print(f"{name:<28}{seconds:>10.3f}{seconds / base:>12.1f}")
    verdict = "PASS" if rows["lathe --help"] < 0.5 else "FAIL"
    print(f"target lathe --help < 0.5 s: {verdict}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps({"runs": args.runs, "median_seconds": rows}, indent=2))


if __name__ == "__main__":
    main()
