"""Monitoring benchmark: lathe's drift tests against Evidently 0.7.23, the 1M x 20 timing,
CBPE estimated vs realised accuracy, and retraining on recent windows (elec2, Adult).

    .venv/bin/python bench/monitoring.py                  # everything (tens of minutes)
    .venv/bin/python bench/monitoring.py --only agreement,timing
    .venv/bin/python bench/monitoring.py --only retrain_log   # `lathe retrain` from the log

Evidently runs in its own venv (pandas<3; never a lathe dependency):
    python3.11 -m venv bench/.evidently && bench/.evidently/bin/pip install \
        'evidently==0.7.23' 'pandas<3' pyarrow
Writes bench/results/monitoring.json. Data: ../shared/data/{elec2,adult} (not shipped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATHE_SHARED_DATA", ROOT.parent / "shared" / "data"))
EVIDENTLY = ROOT / "bench" / ".evidently" / "bin" / "python"
PEER = ROOT / "bench" / "peers" / "evidently_drift.py"
RESULTS = ROOT / "bench" / "results" / "monitoring.json"
LATHE = [sys.executable, "-m", "lathe.cli"]
METHOD = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
          "Jensen-Shannon distance": "jensenshannon", "Wasserstein distance (normed)":
          "wasserstein", "PSI": "psi", "Anderson-Darling": "anderson"}


def lathe_drift(ref: Path, cur: Path) -> dict[str, Any]:
    from lathe.monitoring.detect import detect_drift
    from lathe.monitoring.sources import ParquetSource

    return detect_drift(ParquetSource(ref), ParquetSource(cur))


def evidently(pairs: list[tuple[Path, Path]]) -> list[dict[str, Any]]:
    args = [str(p) for pair in pairs for p in pair]
    done = subprocess.run([str(EVIDENTLY), str(PEER), *args], capture_output=True, text=True,
                          check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def compare(pairs: list[tuple[Path, Path]], label: str) -> dict[str, Any]:
    theirs = evidently(pairs)
    same = total = same_test = 0
    ours_alarms = theirs_alarms = 0
    mismatches = []
    for (ref, cur), peer in zip(pairs, theirs, strict=True):
        ours = lathe_drift(ref, cur)
        ours_alarms += ours["dataset_drift"]
        theirs_alarms += peer["share"] >= 0.5
        for col, theirs_col in peer["columns"].items():
            mine = ours["columns"][col]
            total += 1
            same += mine["drifted"] == theirs_col["drifted"]
            same_test += mine["test"] == METHOD.get(theirs_col["method"])
            if mine["drifted"] != theirs_col["drifted"]:
                mismatches.append({"pair": f"{ref.name} vs {cur.name}", "column": col,
                                   "lathe": [mine["test"], mine["statistic"]],
                                   "evidently": [theirs_col["method"], theirs_col["value"]]})
    return {"set": label, "pairs": len(pairs), "columns_compared": total,
            "same_verdict": same / total, "same_test": same_test / total,
            "dataset_alarms_lathe": ours_alarms, "dataset_alarms_evidently": theirs_alarms,
            "mismatches": mismatches[:20]}


def agreement(tmp: Path) -> list[dict[str, Any]]:
    elec = pd.read_csv(SHARED / "elec2" / "elec2.csv")
    ref = tmp / "elec_ref.parquet"
    elec.iloc[:5000].to_parquet(ref, index=False)
    pairs = []
    for start in range(5000, len(elec) - 2000, 4000):  # windows of 2,000 rows
        cur = tmp / f"elec_{start}.parquet"
        elec.iloc[start:start + 2000].to_parquet(cur, index=False)
        pairs.append((ref, cur))
    small = []  # small samples: the p-value tests (ks, chisquare, z)
    for start in range(5000, len(elec) - 800, 8000):
        r, c = tmp / f"elec_small_ref_{start}.parquet", tmp / f"elec_small_{start}.parquet"
        elec.iloc[start - 800:start].to_parquet(r, index=False)
        elec.iloc[start:start + 800].to_parquet(c, index=False)
        small.append((r, c))
    from lathe.data.load import read_table

    adult = read_table(SHARED / "adult" / "train.csv")
    halves = []
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(len(adult))
        r, c = tmp / f"adult_{seed}_a.parquet", tmp / f"adult_{seed}_b.parquet"
        adult.iloc[order[: len(order) // 2]].to_parquet(r, index=False)
        adult.iloc[order[len(order) // 2:]].to_parquet(c, index=False)
        halves.append((r, c))
    adult_small = []
    for seed in range(5):
        order = np.random.default_rng(100 + seed).permutation(len(adult))[:1600]
        r, c = tmp / f"adult_s{seed}_a.parquet", tmp / f"adult_s{seed}_b.parquet"
        adult.iloc[order[:800]].to_parquet(r, index=False)
        adult.iloc[order[800:]].to_parquet(c, index=False)
        adult_small.append((r, c))
    return [compare(pairs, "elec2: rows 0-5000 vs later windows of 2,000"),
            compare(small, "elec2: 800 rows vs the next 800 (p-value tests)"),
            compare(halves, "Adult: 20 random halves (no-drift control)"),
            compare(adult_small, "Adult: 5 random 800 vs 800 (no-drift, p-value tests)")]


def synthetic(path: Path, rows: int, shift: float, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(10):
        cols[f"num{i}"] = rng.normal(shift * (i % 2), 1 + i / 10, rows)
    cats = np.array([f"cat{j}" for j in range(12)])
    for i in range(10):
        p = np.linspace(1, 2 + shift * i, 12)
        cols[f"cat{i}"] = cats[rng.choice(12, rows, p=p / p.sum())]
    pq.write_table(pa.table(cols), path)


CPU_SECONDS: list[float] = []  # user + sys of each timed process, in order


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB, from GNU time) and stdout of a whole process (its user +
    sys CPU seconds go to CPU_SECONDS)."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *cmd], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    peak, user, system = done.stderr.strip().splitlines()[-1].split()
    CPU_SECONDS.append(float(user) + float(system))
    return seconds, int(peak), done.stdout


def timing(tmp: Path, repeats: int) -> dict[str, Any]:
    ref, cur = tmp / "big_ref.parquet", tmp / "big_cur.parquet"
    synthetic(ref, 1_000_000, 0.0, 1)
    synthetic(cur, 1_000_000, 0.05, 2)
    load = os.getloadavg()[0]
    ours = [timed([*LATHE, "monitor", "drift", str(ref), str(cur), "--json"])
            for _ in range(repeats)]
    cpu = CPU_SECONDS[-repeats:]
    result = json.loads(ours[-1][2])
    # a current of another size takes the merge path of the Wasserstein distance
    odd = tmp / "big_cur_999k.parquet"
    synthetic(odd, 999_000, 0.05, 3)
    unequal = [timed([*LATHE, "monitor", "drift", str(ref), str(odd), "--json"])[0]
               for _ in range(repeats)]
    theirs = timed([str(EVIDENTLY), str(PEER), str(ref), str(cur)])
    peer = json.loads(theirs[2])
    agree = np.mean([result["columns"][c]["drifted"] == v["drifted"]
                     for c, v in peer["columns"].items()])
    lathe_s = statistics.median(s for s, _, _ in ours)
    return {"rows": 1_000_000, "columns": 20, "lathe_seconds_runs": [s for s, _, _ in ours],
            "lathe_seconds_median": lathe_s, "lathe_peak_rss_mib": max(m for _, m, _ in ours) / 1024,
            "lathe_cpu_seconds_runs": cpu, "load_average_1min_at_start": load,
            "lathe_seconds_999k_current_runs": unequal,
            "lathe_seconds_999k_current_median": statistics.median(unequal),
            "evidently_cpu_seconds": CPU_SECONDS[-1],
            "evidently_seconds": theirs[0], "evidently_peak_rss_mib": theirs[1] / 1024,
            "speedup": theirs[0] / lathe_s, "same_verdict": float(agree),
            "lathe_share_drifted": result["share_drifted"], "evidently_share": peer["share"]}


def _train(frame: pd.DataFrame, seed: int = 0) -> Any:
    import lathe

    return lathe.train(frame, target="class", model="gbm", preset="fast", seed=seed)


def cbpe(windows: int = 20) -> dict[str, Any]:
    from lathe.monitoring.cbpe import Calibrator, estimate

    elec = pd.read_csv(SHARED / "elec2" / "elec2.csv")
    period = elec.iloc[:12000].sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, calib, pool = period.iloc[:6000], period.iloc[6000:8000], period.iloc[8000:]
    model = _train(train)
    calibrator = Calibrator.fit(np.asarray(model.predict_raw(calib)),
                                calib["class"].astype(int).to_numpy())
    proba = np.asarray(model.predict_raw(pool))
    truth = pool["class"].astype(int).to_numpy()
    rng = np.random.default_rng(0)
    rows = []
    features = ["nswprice", "nswdemand", "vicprice", "vicdemand", "period", "transfer"]
    for k in range(windows):
        col = features[k % len(features)]
        strength = (-1) ** k * (1 + k % 4)  # known weights exp(strength * standardised x)
        x = pool[col].to_numpy()
        weight = np.exp(strength * (x - x.mean()) / (x.std() + 1e-9))
        pick = rng.choice(len(pool), 2000, replace=True, p=weight / weight.sum())
        est = estimate(calibrator(proba[pick]))["estimated_accuracy"]
        real = float(np.mean(proba[pick].argmax(1) == truth[pick]))
        rows.append({"column": col, "strength": strength, "estimated": est, "realised": real})
    shifted = float(np.mean([abs(r["estimated"] - r["realised"]) for r in rows]))
    # real drift: train on the first 6,000 rows (calibrate on the next 2,000), then windows
    # of 2,000 in time order
    model = _train(elec.iloc[:6000])
    calibrator = Calibrator.fit(np.asarray(model.predict_raw(elec.iloc[6000:8000])),
                                elec["class"].iloc[6000:8000].astype(int).to_numpy())
    real_rows = []
    for start in range(8000, len(elec) - 2000 + 1, 2000):
        part = elec.iloc[start:start + 2000]
        p = np.asarray(model.predict_raw(part))
        real_rows.append({"start": start,
                          "estimated": estimate(calibrator(p))["estimated_accuracy"],
                          "realised": float(np.mean(p.argmax(1) == part["class"].to_numpy()))})
    drift_mae = float(np.mean([abs(r["estimated"] - r["realised"]) for r in real_rows]))
    return {"covariate_shift_windows": rows, "covariate_shift_mae": shifted,
            "real_drift_windows": real_rows, "real_drift_mae": drift_mae}


def retraining(window: int = 2000, history: int = 4000) -> dict[str, Any]:
    elec = pd.read_csv(SHARED / "elec2" / "elec2.csv")
    champion = _train(elec.iloc[:history])
    rows = []
    for start in range(history, len(elec) - window + 1, window * 2):
        recent, following = elec.iloc[start - history:start], elec.iloc[start:start + window]
        challenger = _train(recent.reset_index(drop=True))
        y = following["class"].to_numpy()
        a = float(np.mean(np.asarray(champion.predict_raw(following)).argmax(1) == y))
        b = float(np.mean(np.asarray(challenger.predict_raw(following)).argmax(1) == y))
        rows.append({"start": start, "champion": a, "challenger": b})
    gains = [r["challenger"] - r["champion"] for r in rows]
    return {"windows": rows, "share_won": float(np.mean([g > 0 for g in gains])),
            "mean_gain": float(np.mean(gains))}


def retraining_from_log(tmp: Path, window: int = 2000, history: int = 4000) -> dict[str, Any]:
    """The same schedule through `lathe retrain NAME --data log:URL --window ... --base none`:
    elec2 rows after the champion's 4,000 logged one every 30 minutes (as the data was taken)
    in requests of 48 rows, every outcome attached; at each step the challenger trains on the
    first 80 % of the last `history` rows' span, is registered as `challenger`, and both are
    scored on the next `window` rows."""
    from lathe.api import register, retrain
    from lathe.predlog import PredictionLog, PredictionRecord, open_log
    from lathe.registry import open_registry
    from lathe.registry.refs import load_model

    elec = pd.read_csv(SHARED / "elec2" / "elec2.csv")
    store, url = f"sqlite:///{tmp / 'lathe.db'}", f"sqlite:///{tmp / 'predictions.db'}"
    _train(elec.iloc[:history]).save(tmp / "elec")
    register(tmp / "elec", "elec", store=store)
    with open_registry(store) as registry:
        registry.promote("elec", 1, force=True, reason="bench champion")
    t0, step = 1_000_000_000.0, 1800.0
    log = PredictionLog(url)
    for start in range(history, len(elec), 48):
        part = elec.iloc[start:start + 48]
        log.append(PredictionRecord(f"r{start:06d}", "elec", "elec:1",
                                    {"rows": part.drop(columns="class").to_dict("records")},
                                    [{"label": None}] * len(part), 1.0, time=t0 + step * start,
                                    n_rows=len(part)))
    log.close()
    answers = open_log(url)
    for start in range(history, len(elec), 48):
        answers.attach_outcome(f"r{start:06d}", None, outcomes=[
            int(v) for v in elec["class"].iloc[start:start + 48]])
    answers.close()
    champion = load_model(tmp / "elec")
    rows = []
    for start in range(2 * history, len(elec) - window + 1, window * 2):
        until = pd.Timestamp(t0 + step * start, unit="s", tz="UTC").isoformat()
        made = retrain("elec", f"log:{url}", window=f"{int(history * step)}s", until=until,
                       base="none", alias="challenger", store=store)
        following = elec.iloc[start:start + window]
        y = following["class"].to_numpy()
        challenger = load_model(made["challenger"], store=store)
        rows.append({"start": start, "fit_rows": made["fit_rows"],
                     "champion": float(np.mean(np.asarray(champion.predict_raw(following))
                                               .argmax(1) == y)),
                     "challenger": float(np.mean(np.asarray(challenger.predict_raw(following))
                                                 .argmax(1) == y))})
    gains = [r["challenger"] - r["champion"] for r in rows]
    return {"windows": rows, "share_won": float(np.mean([g > 0 for g in gains])),
            "mean_gain": float(np.mean(gains))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="agreement,timing,cbpe,retraining,retrain_log")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    parts = args.only.split(",")
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                       "load_average_at_start": os.getloadavg(),
                                       "note": "shared 2-core machine: other sessions ran tests at the "
                                               "same time (see the load averages)"}}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if "agreement" in parts:
            out["agreement"] = agreement(tmp)
            for row in out["agreement"]:
                print(f"{row['set']}: same verdict {row['same_verdict']:.1%} of "
                      f"{row['columns_compared']} columns, same test {row['same_test']:.1%}; "
                      f"dataset alarms lathe {row['dataset_alarms_lathe']}, evidently "
                      f"{row['dataset_alarms_evidently']}")
        if "timing" in parts:
            out["timing"] = timing(tmp, args.repeats)
            t = out["timing"]
            print(f"1M x 20: lathe {t['lathe_seconds_median']:.2f} s (runs "
                  f"{[round(s, 2) for s in t['lathe_seconds_runs']]}, peak "
                  f"{t['lathe_peak_rss_mib']:.0f} MiB) vs Evidently {t['evidently_seconds']:.1f} s "
                  f"(peak {t['evidently_peak_rss_mib']:.0f} MiB): {t['speedup']:.1f}x; same "
                  f"verdict {t['same_verdict']:.0%}; 999k current "
                  f"{t['lathe_seconds_999k_current_median']:.2f} s")
    if "cbpe" in parts:
        out["cbpe"] = cbpe()
        print(f"CBPE: covariate-only shift MAE {out['cbpe']['covariate_shift_mae']:.4f}; "
              f"real drift MAE {out['cbpe']['real_drift_mae']:.4f}")
    if "retrain_log" in parts:
        with tempfile.TemporaryDirectory() as folder:
            out["retraining_from_log"] = retraining_from_log(Path(folder))
        r = out["retraining_from_log"]
        print(f"retrain from the log: challenger won {r['share_won']:.0%} of "
              f"{len(r['windows'])} windows, mean accuracy gain {r['mean_gain']:+.4f}")
    if "retraining" in parts:
        out["retraining"] = retraining()
        r = out["retraining"]
        print(f"retraining: challenger won {r['share_won']:.0%} of {len(r['windows'])} windows, "
              f"mean accuracy gain {r['mean_gain']:+.4f}")
    out["machine"]["load_average_at_end"] = os.getloadavg()
    if args.out.exists():  # keep the parts this run did not measure
        out = {**json.loads(args.out.read_text()), **out}
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
