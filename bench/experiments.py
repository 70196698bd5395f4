"""Experiments benchmark: equality with SciPy/statsmodels, A/A peeking, CUPED, cookie_cats,
a 1M-row `lathe experiment analyze`, and routing end to end over HTTP.

    python bench/experiments.py                 # everything (~10 min on a shared 2-core box)
    python bench/experiments.py --skip-http     # the statistics only

Writes bench/results/experiments.json and prints a table. The HTTP part starts `lathe serve`
on 127.0.0.1 only, with a bounded number of requests and clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
COOKIE = ROOT.parent / "shared" / "data" / "cookie_cats" / "cookie_cats.csv"
LATHE = [sys.executable, "-m", "lathe.cli"]


# ---- 1. equality with SciPy / statsmodels ------------------------------------------------------
def equality(seed: int = 0) -> dict[str, float]:
    from scipy import stats
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        proportion_effectsize,
        proportions_ztest,
    )

    from lathe.experiments.stats import means, power, proportions, srm
    from lathe.experiments.stats.multiple import holm

    rng = np.random.default_rng(seed)
    worst = {k: 0.0 for k in ("z", "newcombe", "welch", "welch_ci", "mann_whitney", "srm",
                              "holm", "power_n")}
    for _ in range(200):
        n_t, n_c = rng.integers(20, 50_000, 2)
        x_t, x_c = rng.binomial(n_t, rng.uniform(0.05, 0.9)), rng.binomial(n_c, rng.uniform(0.05, 0.9))
        z = proportions.ztest_pooled(x_t, n_t, x_c, n_c)
        ref = proportions_ztest([x_t, x_c], [n_t, n_c])
        worst["z"] = max(worst["z"], abs(z.statistic - ref[0]), abs(z.p_value - ref[1]))
        nc = proportions.newcombe_interval(x_t, n_t, x_c, n_c)
        ref = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb")
        worst["newcombe"] = max(worst["newcombe"], *(abs(a - b) for a, b in zip(nc, ref, strict=True)))
        t, c = rng.lognormal(1, 1, rng.integers(5, 3000)), rng.lognormal(1.05, 1.1, rng.integers(5, 3000))
        w = means.welch(means.summarize(t), means.summarize(c))
        ref = stats.ttest_ind(t, c, equal_var=False)
        ci = ref.confidence_interval()
        worst["welch"] = max(worst["welch"], abs(w.statistic - ref.statistic), abs(w.p_value - ref.pvalue))
        worst["welch_ci"] = max(worst["welch_ci"], abs(w.ci[0] - ci.low), abs(w.ci[1] - ci.high))
        u, p = means.mann_whitney(t, c)
        ref = stats.mannwhitneyu(t, c)
        worst["mann_whitney"] = max(worst["mann_whitney"], abs(u - ref.statistic), abs(p - ref.pvalue))
        counts = rng.integers(1000, 100_000, rng.integers(2, 5))
        res = srm.srm_test(counts, [1] * counts.size)
        ref = stats.chisquare(counts)
        worst["srm"] = max(worst["srm"], abs(res.statistic - ref.statistic), abs(res.p_value - ref.pvalue))
        ps = rng.uniform(0, 0.2, 6)
        worst["holm"] = max(worst["holm"], float(np.max(np.abs(np.array(holm(ps))
                                                               - multipletests(ps, method="holm")[1]))))
        base, mde = rng.uniform(0.05, 0.5), rng.uniform(0.005, 0.05)
        n = power.sample_size_per_arm("proportion", baseline=base, mde=mde)
        want = math.ceil(NormalIndPower().solve_power(
            effect_size=abs(proportion_effectsize(base + mde, base)), alpha=0.05, power=0.8))
        worst["power_n"] = max(worst["power_n"], abs(n - want))
    return worst


# ---- 2. A/A with peeking -----------------------------------------------------------------------
def aa_peeking(experiments: int = 2000, looks: int = 10, per_look: int = 500,
               seed: int = 1) -> dict[str, Any]:
    """Proportions (p = 0.1) and a skewed mean (lognormal) under no effect, 10 looks each."""
    from scipy.special import ndtr

    from lathe.experiments.stats import sequential

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"experiments": experiments, "looks": looks, "per_arm_per_look": per_look}
    for kind in ("proportion", "lognormal mean"):
        seq_hits = naive_hits = final_hits = 0
        for start in range(0, experiments, 100):
            m = min(100, experiments - start)
            shape = (m, looks * per_look)
            if kind == "proportion":
                t, c = (rng.random(shape) < 0.1).astype(float), (rng.random(shape) < 0.1).astype(float)
            else:
                t, c = rng.lognormal(0, 1, shape), rng.lognormal(0, 1, shape)
            best = np.ones(m)
            naive = np.zeros(m, dtype=bool)
            for k in range(1, looks + 1):
                n = k * per_look
                a, b = t[:, :n], c[:, :n]
                diff = a.mean(1) - b.mean(1)
                var = a.var(1, ddof=1) / n + b.var(1, ddof=1) / n
                p_fixed = 2 * ndtr(-np.abs(diff) / np.sqrt(var))
                naive |= p_fixed < 0.05
                for i in range(m):
                    best[i] = min(best[i], sequential.always_valid_p(
                        diff=float(diff[i]), var_diff=float(var[i]), s2=float(var[i]) * 2 * n))
            seq_hits += int((best < 0.05).sum())
            naive_hits += int(naive.sum())
            final_hits += int((p_fixed < 0.05).sum())
        mc = math.sqrt(0.05 * 0.95 / experiments)
        out[kind] = {"sequential_fpr": seq_hits / experiments, "naive_peeking_fpr":
                     naive_hits / experiments, "fixed_horizon_fpr": final_hits / experiments,
                     "monte_carlo_se_at_0.05": mc,
                     "sequential_ok": seq_hits / experiments <= 0.05 + 2 * mc}
    return out


# ---- 3. CUPED ----------------------------------------------------------------------------------
def cuped(n: int = 20_000, rho: float = 0.7, sims: int = 300, seed: int = 2) -> dict[str, Any]:
    from lathe.experiments.stats.cuped import cuped_adjust

    rng = np.random.default_rng(seed)
    ratios, raw_effects, adj_effects = [], [], []
    for _ in range(sims):
        x = rng.normal(size=n)
        y = 10 + rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
        arm = rng.random(n) < 0.5
        y = y + 0.02 * arm
        adjusted, _ = cuped_adjust(y, x)
        ratios.append(adjusted.var() / y.var())
        raw_effects.append(y[arm].mean() - y[~arm].mean())
        adj_effects.append(adjusted[arm].mean() - adjusted[~arm].mean())
    return {"rho": rho, "units": n, "simulations": sims, "expected_ratio": 1 - rho**2,
            "measured_ratio": float(np.mean(ratios)),
            "effect_variance_ratio": float(np.var(adj_effects) / np.var(raw_effects)),
            "effect_mean_raw": float(np.mean(raw_effects)),
            "effect_mean_cuped": float(np.mean(adj_effects))}


# ---- 4. cookie_cats ----------------------------------------------------------------------------
def cookie_cats() -> dict[str, Any]:
    from lathe.experiments.service import analyze_file

    if not COOKIE.exists():
        return {"skipped": f"{COOKIE} not found"}
    out = analyze_file(COOKIE, variant="version", control="gate_30",
                       metrics=["retention_1", "retention_7", "sum_gamerounds"])
    mw = analyze_file(COOKIE, variant="version", control="gate_30", metrics=["sum_gamerounds"],
                      test="mann-whitney")
    summary: dict[str, Any] = {"srm": {k: out["srm"][k] for k in ("p_value", "mismatch", "counts")},
                               "decision": out["decision"]["sentence"], "metrics": {}}
    for name, block in out["metrics"].items():
        comp = block["comparisons"]["gate_40"]
        summary["metrics"][name] = {
            "control_mean": block["variants"]["gate_30"]["mean"],
            "treatment_mean": block["variants"]["gate_40"]["mean"], "test": comp["test"],
            "p_value": comp["p_value"], "p_holm": comp["p_adjusted"], "ci": comp["ci"],
            "lift": comp["lift"], "p_sequential": comp["sequential"]["p_value"],
            "prob_beat_control": comp.get("prob_beat_control")}
    comp = mw["metrics"]["sum_gamerounds"]["comparisons"]["gate_40"]
    summary["metrics"]["sum_gamerounds (mann-whitney)"] = {
        "test": comp["test"], "p_value": comp["p_value"], "ci": comp["ci"],
        "ci_method": comp["ci_method"]}
    return summary


# ---- 5. 1M rows through the CLI ----------------------------------------------------------------
def million_rows(runs: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    n = 1_000_000
    path = Path(tempfile.mkdtemp()) / "ab1m.csv"
    group = np.where(rng.random(n) < 0.5, "control", "treatment")
    converted = (rng.random(n) < np.where(group == "treatment", 0.105, 0.1)).astype(int)
    revenue = np.round(rng.lognormal(1, 1, n), 2)
    with open(path, "w") as out:
        out.write("user_id,group,converted,revenue,country\n")
        out.writelines(f"{i},{g},{c},{r},{'us' if i % 3 else 'de'}\n"
                       for i, g, c, r in zip(range(n), group, converted, revenue, strict=True))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    results = {}
    for label, extra in (("z (converted)", ["--metric", "converted"]),
                         ("welch (revenue)", ["--metric", "revenue"])):
        walls, cpus = [], []
        for _ in range(runs):
            began = time.perf_counter()
            before = os.times()
            done = subprocess.run([*LATHE, "experiment", "analyze", str(path), "--variant", "group",
                                   "--control", "control", *extra, "--json"],
                                  capture_output=True, env=env, check=True)
            after = os.times()
            walls.append(time.perf_counter() - began)
            cpus.append((after.children_user - before.children_user)
                        + (after.children_system - before.children_system))
            json.loads(done.stdout)
        results[label] = {"wall_s_median": statistics.median(walls), "wall_s": walls,
                          "cpu_s_median": statistics.median(cpus)}
    results["load_average_1m"] = os.getloadavg()[0]
    path.unlink()
    return results


# ---- 6. HTTP end to end --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(model: str, port: int, store: str, log: str, check_every: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), LATHE_STORE=store)
    proc = subprocess.Popen([*LATHE, "serve", model, "--port", str(port), "--experiments",
                             "--check-every", str(check_every), "--prediction-log", log,
                             "--reload-every", "0"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import urllib.request

    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not become ready")


async def _send(port: int, jobs: list[tuple[str, dict]], concurrency: int) -> list[dict]:
    import httpx

    results: list[dict] = [{}] * len(jobs)
    queue = list(enumerate(jobs))[::-1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        async def worker() -> None:
            while queue:
                i, (unit, body) = queue.pop()
                began = time.perf_counter()
                r = await client.post("/v1/models/adult/predict", json=body,
                                      headers={"X-Unit-Id": unit})
                ms = (time.perf_counter() - began) * 1000
                results[i] = {"unit": unit, "status": r.status_code, "ms": ms, "at": time.time(),
                              **({k: r.json().get(k) for k in ("variant", "version")}
                                 if r.status_code == 200 else {})}
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def http_end_to_end(requests: int = 20_000, units: int = 5_000, concurrency: int = 4) -> dict:
    import pandas as pd

    import lathe
    from lathe.experiments import records
    from lathe.experiments.stats.srm import srm_test
    from lathe.registry import open_registry
    from lathe.serving.experiments import assign

    work = Path(tempfile.mkdtemp())
    store = f"sqlite:///{work / 'lathe.db'}"
    frame = pd.read_csv(ROOT / "examples" / "data" / "adult.csv", nrows=2000)
    a = lathe.train(frame.head(1000), target="income", threads=1).save(work / "a")
    b = lathe.train(frame.tail(1000), target="income", threads=1).save(work / "b")
    broken = frame.tail(1000).assign(extra_signal=np.arange(1000) % 7)
    c = lathe.train(broken, target="income", threads=1).save(work / "c")  # needs a column clients never send
    with open_registry(store) as reg:
        for path in (a, b, c):
            reg.register(path, name="adult")
        reg.promote("adult", 1)
    rows = frame.drop(columns=["income"]).head(200)
    rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    rng = np.random.default_rng(4)
    out: dict[str, Any] = {"requests": requests, "units": units, "concurrency": concurrency}

    # (a) 50/50 split: stickiness and SRM
    records.start("ab", control="adult@champion", treatment="adult:2", unit="user_id", store=store)
    port = _free_port()
    proc = _serve("adult@champion", port, store, f"sqlite:///{work / 'log-ab.db'}", 30)
    try:
        jobs = [(f"user-{rng.integers(units)}", {"rows": [rows[i % len(rows)]]})
                for i in range(requests)]
        began = time.perf_counter()
        got = asyncio.run(_send(port, jobs, concurrency))
        seconds = time.perf_counter() - began
    finally:
        proc.terminate()
        proc.wait(30)
    ok = [g for g in got if g.get("status") == 200]
    by_unit: dict[str, set] = {}
    for g in ok:
        by_unit.setdefault(g["unit"], set()).add(g["variant"])
    sticky = sum(len(v) == 1 for v in by_unit.values()) / len(by_unit)
    matches_hash = all(next(iter(v)) == assign(u, "ab", 50) for u, v in by_unit.items())
    unit_counts = [sum(next(iter(v)) == arm for v in by_unit.values()) for arm in ("control", "treatment")]
    srm = srm_test(unit_counts, [0.5, 0.5])
    out["split"] = {"ok_responses": len(ok), "seconds": seconds, "sticky_share": sticky,
                    "variant_equals_sha256_assignment": matches_hash, "units_seen": len(by_unit),
                    "units_per_variant": unit_counts, "srm_p_value": srm.p_value,
                    "srm_flagged": srm.mismatch}
    records.stop("ab", promote=False, reason="bench", store=store)

    # (b) shadow cost: the control's p50 with and without a shadow, interleaved phases
    port = _free_port()
    proc = _serve("adult@champion", port, store, f"sqlite:///{work / 'log-sh.db'}", 1)
    phases: dict[str, list[float]] = {"none": [], "shadow": []}
    try:
        for rep in range(3):
            for mode in ("none", "shadow"):
                name = f"sh{rep}"
                if mode == "shadow":
                    records.start(name, control="adult@champion", treatment="adult:2",
                                  unit="user_id", shadow=True, store=store)
                time.sleep(2.5)  # the server refreshes experiments every second
                jobs = [(f"user-{i}", {"rows": [rows[i % len(rows)]]}) for i in range(1500)]
                got = asyncio.run(_send(port, jobs, 2))
                phases[mode].extend(g["ms"] for g in got[300:] if g.get("status") == 200)
                if mode == "shadow":
                    records.stop(name, promote=False, store=store)
    finally:
        proc.terminate()
        proc.wait(30)
    p50 = {k: statistics.median(v) for k, v in phases.items()}
    out["shadow"] = {"p50_ms_without": p50["none"], "p50_ms_with_shadow": p50["shadow"],
                     "added_share": p50["shadow"] / p50["none"] - 1,
                     "requests_per_phase": 1200, "phases_each": 3}

    # (c) canary whose candidate fails every request: rolled back within one interval
    interval = 5.0
    records.start("can", control="adult@champion", treatment="adult:3", unit="user_id",
                  canary="50,100", step_minutes=60, store=store)
    port = _free_port()
    proc = _serve("adult@champion", port, store, f"sqlite:///{work / 'log-can.db'}", interval)
    try:
        began = time.perf_counter()
        rolled_at = None
        statuses: list[int] = []
        first_error = None
        while time.perf_counter() - began < 6 * interval:
            jobs = [(f"user-{rng.integers(units)}", {"rows": [rows[0]]}) for _ in range(40)]
            batch = asyncio.run(_send(port, jobs, 2))
            statuses += [g["status"] for g in batch]
            errors = [g["at"] - g["ms"] / 1000 for g in batch if g["status"] != 200]
            if first_error is None and errors:
                first_error = min(errors)
            if records.get("can", store).status != "running":
                rolled_at = time.perf_counter() - began
                break
        after = asyncio.run(_send(port, [(f"user-{i}", {"rows": [rows[0]]}) for i in range(200)], 2))
    finally:
        proc.terminate()
        proc.wait(30)
    exp = records.get("can", store)
    from datetime import datetime

    stopped = datetime.fromisoformat(exp.stopped_at).timestamp() if exp.stopped_at else None
    after_error = None if stopped is None or first_error is None else stopped - first_error
    out["canary"] = {"evaluation_interval_s": interval, "status": exp.status,
                     "rolled_back_s_after_first_error": after_error,
                     "noticed_by_client_after_s": rolled_at,
                     "within_one_interval": after_error is not None and after_error <= interval,
                     "reason": (exp.result or {}).get("reason"),
                     "errors_before_rollback": sum(s != 200 for s in statuses),
                     "requests_before_rollback": len(statuses),
                     "errors_after_rollback": sum(g["status"] != 200 for g in after)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--skip-stats", action="store_true")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--units", type=int, default=5_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "experiments.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores, shared with other jobs "
                               f"(load average at start {os.getloadavg()[0]:.1f})"}
    stats_parts = () if args.skip_stats else (
        ("equality", equality), ("aa_peeking", aa_peeking), ("cuped", cuped),
        ("cookie_cats", cookie_cats))
    for name, fn in stats_parts:
        began = time.perf_counter()
        results[name] = fn()
        print(f"{name:>12}: {time.perf_counter() - began:6.1f} s  {json.dumps(results[name])[:300]}")
    if not args.skip_million:
        results["million_rows_cli"] = million_rows()
        print(f"{'1M rows':>12}: {json.dumps(results['million_rows_cli'])}")
    if not args.skip_http:
        results["http"] = http_end_to_end(args.requests, args.units)
        print(f"{'http':>12}: {json.dumps(results['http'])}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
