"""Business-case benchmark: `lathe decide` on Banking77, training energy against CodeCarbon,
and the value-maximising threshold on Adult.

1. **decide** — Banking77 (../shared/data/banking77/train.csv, 80/20 stratified, seed 0):
   `text` fast, `text` best (time budget `--budget`, modest because the machine is shared),
   best's int8 and distilled children, and a `linear` model, all trained on the 80 %, then
   `lathe.decide` over the five on the same held-out rows: the table, the Pareto front (HTML
   report), the sentence, every cost re-derived from CPU-seconds x price (`--decide-rows N`
   decides on a sample of the held-out rows when the machine is busy).
2. **energy** — a fixed training run (Adult, gbm fast, 2 threads), wrapped in CodeCarbon's own
   `OfflineEmissionsTracker` (process mode, as lathe uses it): lathe's manifest kWh against the
   outer tracker's, target within 10 %; and training with and without the tracker (wall time).
3. **threshold** — Adult (../shared/data/adult/train.csv): 60 % train, 20 % to choose the
   threshold (`lathe evaluate --costs` logic), 20 % held out; a false negative costs 5x a false
   positive. Targets: held-out value at the chosen threshold >= at 0.5, and within 2 % of the
   best threshold chosen on the held-out rows themselves.
4. **speed** — `decide` with four candidates on 3,000 rows (target <= 60 s): Adult gbm and
   linear and the gbm's pruned and distilled children, on 3,000 held-out Adult rows.

    .venv/bin/python bench/business.py                    # everything (text best: --budget s)
    .venv/bin/python bench/business.py --only energy,threshold
    .venv/bin/python bench/business.py --work /tmp/bb     # keep artifacts; reruns reuse them

Results: bench/results/business.json (+ business_decide.html).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
_SHARED = [Path(os.environ["LATHE_DATA"])] if "LATHE_DATA" in os.environ else []
DATA_ROOT = next((p for p in _SHARED if p.exists()), ROOT.parent / "shared" / "data")
RESULTS = ROOT / "bench" / "results"
THREADS = 2


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- 1. decide on Banking77 ----------------------------------------------------------------
def _banking() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(DATA_ROOT / "banking77" / "train.csv")
    train, hold = train_test_split(frame, test_size=0.2, random_state=0,
                                   stratify=frame["category"])
    return train.reset_index(drop=True), hold.reset_index(drop=True)


def _train_candidates(work: Path, budget: float) -> dict[str, Any]:
    import lathe
    from lathe.compression.pipeline import compress

    train, _ = _banking()
    made: dict[str, Any] = {}
    plans = [("text-fast", {"model": "text", "preset": "fast"}),
             ("text-best", {"model": "text", "preset": "best", "time_budget_s": budget}),
             ("linear", {"model": "linear", "preset": "fast"})]
    for name, kw in plans:
        path = work / name
        if not (path / "manifest.json").exists():
            _log(f"training {name} ...")
            began = time.perf_counter()
            lathe.train(train, target="category", threads=THREADS, **kw).save(path)
            made[name] = time.perf_counter() - began
    for method in ("int8", "distill"):
        path = work / f"text-best-{method}"
        if not (path / "manifest.json").exists():
            _log(f"compressing text-best with {method} ...")
            began = time.perf_counter()
            compress(str(work / "text-best"), method, out=path, data=train)
            made[f"text-best-{method}"] = time.perf_counter() - began
    return {"trained_seconds": made}


def run_decide(work: Path, budget: float, train: bool = True,
               rows: int | None = None) -> dict[str, Any]:
    import lathe

    out = _train_candidates(work, budget) if train else {"trained_seconds": {}}
    _, hold = _banking()
    if rows is not None and rows < len(hold):
        hold = hold.sample(n=rows, random_state=0).reset_index(drop=True)
    hold_file = work / "banking77_holdout.csv"
    hold.to_csv(hold_file, index=False)
    wanted = ("text-best", "text-fast", "text-best-int8", "text-best-distill",
              "text-fast-int8", "text-fast-distill", "linear")
    names = [n for n in wanted if (work / n / "manifest.json").exists()]
    out["candidates_missing"] = [n for n in wanted[:4] + wanted[6:] if n not in names]
    report = RESULTS / "business_decide.html"
    began = time.perf_counter()
    result = lathe.decide([str(work / n) for n in names], hold_file, traffic="2e6/day",
                          price="cpu_hour=0.034", value="correct=0.40,wrong=-2.0",
                          region="FR", report=report)
    seconds = time.perf_counter() - began
    for c in result["candidates"]:
        again = c["cpu_seconds_per_row"] * 1e6 * c["price_per_cpu_hour"] / 3600
        assert abs(again - c["cost_per_million"]) <= 1e-12 * max(1.0, again), c["model"]
    out.update(decide=_slim(result), decide_seconds=seconds, budget_text_best_s=budget,
               held_out_rows=len(hold))
    return out


def run_speed(work: Path) -> dict[str, Any]:
    """`decide` with four candidates on 3,000 rows: Adult gbm and linear, and the gbm's
    pruned and distilled children, on 3,000 held-out rows."""
    import lathe
    from lathe.compression.pipeline import compress

    frame = _adult()
    train, hold = train_test_split(frame, test_size=3000, random_state=0,
                                   stratify=frame["income"])
    plans = [("adult-gbm", "gbm"), ("adult-linear", "linear")]
    for name, family in plans:
        if not (work / name / "manifest.json").exists():
            lathe.train(train, target="income", model=family, threads=THREADS).save(work / name)
    for method in ("prune", "distill"):
        if not (work / f"adult-gbm-{method}" / "manifest.json").exists():
            compress(str(work / "adult-gbm"), method, out=work / f"adult-gbm-{method}",
                     data=train)
    file = work / "adult_3000.csv"
    hold.to_csv(file, index=False)
    names = ["adult-gbm", "adult-linear", "adult-gbm-prune", "adult-gbm-distill"]
    load = os.getloadavg()[0]
    began = time.perf_counter()
    result = lathe.decide([str(work / n) for n in names], file)
    seconds = time.perf_counter() - began
    return {"candidates": names, "rows": 3000, "seconds": seconds,
            "load_average_before": load, "load_average_after": os.getloadavg()[0],
            "recommendation": Path(result["recommendation"]).name, "reason": result["reason"],
            "table": [{"model": Path(c["model"]).name, "roc_auc": c["metrics"]["roc_auc"],
                       "cost_per_million": c["cost_per_million"],
                       "p95_ms": c["latency_ms"]["p95"], "pareto": c["pareto"]}
                      for c in result["candidates"]]}


def _slim(result: dict[str, Any]) -> dict[str, Any]:
    keep = dict(result)
    keep["candidates"] = [{k: v for k, v in c.items() if k not in ("training_footprint",)}
                          | {"metrics": {k: v for k, v in c["metrics"].items()
                                         if not isinstance(v, (dict, list))}}
                          for c in result["candidates"]]
    return keep


# ---- 2. energy against CodeCarbon ----------------------------------------------------------
def _adult() -> pd.DataFrame:
    return pd.read_csv(DATA_ROOT / "adult" / "train.csv")


def run_energy(repeats: int) -> dict[str, Any]:
    from codecarbon import OfflineEmissionsTracker

    import lathe

    frame = _adult()
    runs = []
    for i in range(repeats):
        outer = OfflineEmissionsTracker(output_methods=[], log_level="error",
                                        tracking_mode="process", allow_multiple_runs=True,
                                        measure_power_secs=15)
        outer.start()
        model = lathe.train(frame, target="income", preset="fast", threads=THREADS)
        outer.stop()
        theirs = float(outer.final_emissions_data.energy_consumed)
        ours = model.manifest["footprint"]
        runs.append({"lathe_kwh": ours["energy_kwh"], "codecarbon_kwh": theirs,
                     "ratio": ours["energy_kwh"] / theirs, "method": ours["method"],
                     "cpu_hours": ours["cpu_hours"], "seconds": ours["seconds"],
                     "tracked_share": ours.get("tracked_share")})
        _log(f"energy run {i}: lathe {ours['energy_kwh']:.3e} kWh, codecarbon "
             f"{theirs:.3e} kWh, ratio {runs[-1]['ratio']:.4f}")
    # overhead: the same training with and without CodeCarbon, alternating
    timing: dict[str, list[float]] = {"codecarbon": [], "estimate_only": []}
    for _ in range(repeats):
        for key, flag in (("codecarbon", True), ("estimate_only", False)):
            began = time.perf_counter()
            lathe.train(frame, target="income", preset="fast", threads=THREADS,
                        config=_footprint_config(flag))
            timing[key].append(time.perf_counter() - began)
    ratio = statistics.median(r["ratio"] for r in runs)
    return {"runs": runs, "median_ratio": ratio, "within_10_percent": abs(ratio - 1) <= 0.10,
            "train_seconds": timing,
            "train_seconds_median": {k: statistics.median(v) for k, v in timing.items()}}


def _footprint_config(codecarbon: bool) -> Any:
    from lathe.config import load_config

    return load_config(None, footprint__codecarbon=codecarbon)


# ---- 3. the threshold on Adult -------------------------------------------------------------
def run_threshold() -> dict[str, Any]:
    import lathe
    from lathe.business.value import best_threshold, threshold_value, value_matrix

    frame = _adult()
    train, rest = train_test_split(frame, test_size=0.4, random_state=0,
                                   stratify=frame["income"])
    choose, held = train_test_split(rest, test_size=0.5, random_state=0,
                                    stratify=rest["income"])
    model = lathe.train(train, target="income", preset="fast", threads=THREADS)
    costs = {"tp": 0.0, "tn": 0.0, "fp": -1.0, "fn": -5.0}
    pos = model.schema.positive_index
    V = value_matrix(costs, [0, 1])  # index 1 = positive

    def scored(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        y = (part["income"].astype(str) == str(model.classes[pos])).to_numpy().astype(int)
        return y, model.predict_proba(part).iloc[:, pos].to_numpy()

    y_c, p_c = scored(choose)
    chosen = best_threshold(y_c, p_c, V)["threshold"]
    y_h, p_h = scored(held)
    oracle = best_threshold(y_h, p_h, V)
    at_chosen = threshold_value(y_h, p_h, V, chosen)
    at_half = threshold_value(y_h, p_h, V, 0.5)
    gap = (oracle["expected_value"] - at_chosen) / abs(oracle["expected_value"])
    return {"positive_class": str(model.classes[pos]), "costs": costs,
            "chosen_threshold": chosen, "held_out_value_at_chosen": at_chosen,
            "held_out_value_at_0.5": at_half, "held_out_best_threshold": oracle["threshold"],
            "held_out_best_value": oracle["expected_value"], "gap_to_best": gap,
            "rows": {"train": len(train), "choose": len(choose), "held_out": len(held)},
            "ok_vs_0.5": at_chosen >= at_half, "ok_within_2_percent": gap <= 0.02}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="decide,energy,threshold,speed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lathe-bench-business"))
    parser.add_argument("--budget", type=float, default=420.0,
                        help="time budget of text best, seconds (20 min on a free machine)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "business.json")
    parser.add_argument("--decide-rows", type=int, default=None,
                        help="decide on a sample of the held-out rows (a busy machine)")
    parser.add_argument("--no-train", action="store_true",
                        help="decide over the artifacts already in --work (train none)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    file = args.out
    results: dict[str, Any] = json.loads(file.read_text()) if file.exists() else {}
    results["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["machine"] = (f"{os.cpu_count()} CPUs, shared with other jobs (load average "
                          f"{os.getloadavg()[0]:.1f} at the start)")
    parts = args.only.split(",")
    if "threshold" in parts:
        results["threshold"] = run_threshold()
        _log(json.dumps(results["threshold"], indent=1))
    if "energy" in parts:
        results["energy"] = run_energy(args.repeats)
    if "decide" in parts:
        results["decide"] = run_decide(args.work, args.budget, train=not args.no_train,
                                       rows=args.decide_rows)
    if "speed" in parts:
        results["speed"] = run_speed(args.work)
    file.write_text(json.dumps(results, indent=1, default=str) + "\n")
    _print(results)


def _print(results: dict[str, Any]) -> None:
    if "decide" in results:
        d = results["decide"]["decide"]
        metric = d["primary_metric"]
        print(f"| model | {metric} | p50 ms | p95 ms | CPU s/row | $/1M | kWh/1M | kg CO2/1M |"
              " value/pred | Pareto |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for c in sorted(d["candidates"], key=lambda c: c["rank"]):
            print(f"| {Path(c['model']).name} | {c['metrics'][metric]:.4f} | "
                  f"{c['latency_ms']['p50']:.2f} | {c['latency_ms']['p95']:.2f} | "
                  f"{c['cpu_seconds_per_row']:.3g} | {c['cost_per_million']:.4g} | "
                  f"{c['kwh_per_million']:.4g} | {c['co2_kg_per_million']:.4g} | "
                  f"{c['expected_value']:.4f} | {'yes' if c['pareto'] else ''} |")
        print(d["reason"])
        print(f"decide over {len(d['candidates'])} candidates on "
              f"{results['decide']['held_out_rows']} rows: {results['decide']['decide_seconds']:.1f} s")
    if "speed" in results:
        sp = results["speed"]
        print(f"decide, four Adult candidates on 3,000 rows: {sp['seconds']:.1f} s (load average "
              f"{sp['load_average_before']:.1f} on {os.cpu_count()} CPUs); {sp['reason']}")
    if "energy" in results:
        e = results["energy"]
        print(f"energy: lathe / CodeCarbon median ratio {e['median_ratio']:.4f} "
              f"({'OK' if e['within_10_percent'] else 'MISSED'} within 10 %); training s "
              f"{e['train_seconds_median']}")
    if "threshold" in results:
        t = results["threshold"]
        print(f"threshold {t['chosen_threshold']:.4f}: held-out value {t['held_out_value_at_chosen']:.4f}"
              f" vs 0.5 {t['held_out_value_at_0.5']:.4f} vs best {t['held_out_best_value']:.4f}"
              f" (gap {t['gap_to_best']:.2%})")


if __name__ == "__main__":
    main()
