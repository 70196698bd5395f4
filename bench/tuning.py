"""Tuning benchmark on UCI Adult (../shared/data/adult/train.csv, label `income`).

1. **TPE + pruning vs GridSearchCV** — the same LightGBM family (lathe's `gbm`, wrapped as a
   scikit-learn estimator for the grid), the same rows (lathe's train+valid split), the same
   stratified CV folds, the same fixed number of rounds. GridSearchCV runs the full grid;
   `lathe.tuning.tune` (TPE, median pruning after each fold) searches the box the grid spans.
   Reported: the grid's best CV AUC and wall time, and the time TPE took to reach that score,
   as a share of the grid's wall time (target ≤ 25 %).
2. **1 vs 4 workers on PostgreSQL** — one study of N trials (default 200) on a row sample,
   each trial single-threaded; wall time per configuration and a check that every study has
   exactly trials 0..N-1 (none lost or duplicated).
3. **Tuned vs untuned** — `lathe.api.train(preset="best")` against the model `tune` returns,
   both scored on the same held-out test split (seed 0) that neither saw.

Run (from the repository root; several minutes on 2 cores):

    .venv/bin/python bench/tuning.py                       # all parts
    .venv/bin/python bench/tuning.py --parts grid --folds 3
    .venv/bin/python bench/tuning.py --parts workers --trials 200 --rows 4000

>>> _first_reach([(1.0, 0.80), (2.0, 0.90), (3.0, 0.95)], 0.9)
2.0
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "tuning.json"
DATA = Path(os.environ.get(
    "LATHE_ADULT", Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "train.csv"))
PG_URL = os.environ.get("LATHE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GRIDS = {
    # 36 points: the grid's best sits at its centre, where TPE's first trial (the family
    # defaults) already is
    "coarse": {
        "num_leaves": [15, 31, 63],
        "learning_rate": [0.05, 0.1, 0.2],
        "min_child_samples": [10, 40],
        "feature_fraction": [0.5, 0.8],
        "lambda_l2": [0.0],
    },
    # 243 points: three values of each of five parameters, the grid a user writes by hand
    "fine": {
        "num_leaves": [15, 31, 63],
        "learning_rate": [0.05, 0.1, 0.2],
        "min_child_samples": [10, 20, 40],
        "feature_fraction": [0.5, 0.65, 0.8],
        "lambda_l2": [0.0, 1.0, 10.0],
    },
}
FIXED = {"bagging_fraction": 1.0, "bagging_freq": 0}
LOG_SCALE = {"num_leaves", "learning_rate"}


def tpe_box(grid: dict[str, list[float]]) -> dict[str, Any]:
    """The search box a grid spans, for TPE (log scale where the grid steps are ratios).

    >>> tpe_box({"num_leaves": [15, 63], "lambda_l2": [0.0]})
    {'num_leaves': {'low': 15, 'high': 63, 'log': True}, 'lambda_l2': 0.0}
    """
    out: dict[str, Any] = {}
    for name, values in grid.items():
        if len(values) == 1:
            out[name] = values[0]
        else:
            out[name] = {"low": min(values), "high": max(values), "log": name in LOG_SCALE}
    return out


def _first_reach(history: list[tuple[float, float]], target: float) -> float | None:
    """Seconds at which a (seconds, value) history first reaches `target`, else None."""
    for seconds, value in history:
        if value >= target - 1e-12:
            return seconds
    return None


def _grid_vs_tpe(frame: pd.DataFrame, folds: int, rounds: int, threads: int,
                 max_trials: int, tpe_share: float, pruners: tuple[str, ...] = ("median",),
                 grid_name: str = "coarse", tpe_seeds: int = 1) -> dict[str, Any]:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV

    from lathe.models import FitData
    from lathe.models.gbm import GBM
    from lathe.tuning import tune
    from lathe.tuning._objective import cv_splits
    from lathe.tuning._prepare import prepare

    prepared = prepare(frame, "income", seed=0, threads=threads)
    X, y = prepared.combined()
    splits = cv_splits(prepared.schema, X, y, folds, seed=0)  # the folds tune() uses
    schema = prepared.schema

    class LatheGBM(ClassifierMixin, BaseEstimator):
        """lathe's gbm family as a scikit-learn estimator, so both searches fit the same model."""

        def __init__(self, num_leaves: int = 31, learning_rate: float = 0.1,
                     min_child_samples: int = 20, feature_fraction: float = 0.9,
                     lambda_l2: float = 0.0) -> None:
            self.num_leaves = num_leaves
            self.learning_rate = learning_rate
            self.min_child_samples = min_child_samples
            self.feature_fraction = feature_fraction
            self.lambda_l2 = lambda_l2

        def fit(self, X: pd.DataFrame, y: np.ndarray) -> LatheGBM:
            self.model_ = GBM(**self.get_params(), **FIXED, n_estimators=rounds).fit(
                FitData(schema, X, y, threads=threads))
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            return self.model_.predict_raw(X)

    def auc(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> float:
        return float(roc_auc_score(y, estimator.predict_proba(X)[:, 1]))

    started = time.perf_counter()
    GRID = GRIDS[grid_name]
    grid = GridSearchCV(LatheGBM(), GRID, scoring=auc, cv=splits, refit=False, n_jobs=1)
    grid.fit(X, y)
    grid_seconds = time.perf_counter() - started
    grid_best = float(grid.best_score_)
    n_grid = len(list(itertools.product(*GRID.values())))

    space = {"n_estimators": rounds, **FIXED, **tpe_box(GRID)}

    def race(pruner: str, seed: int) -> dict[str, Any]:
        started_wall = time.time()
        # TPE gets a share of the grid's time: enough to show whether it gets there within 25 %
        result = tune(frame, "income", trials=max_trials, timeout_s=grid_seconds * tpe_share,
                      cv_folds=folds,
                      pruner=pruner, storage=f"sqlite:///{RESULTS.parent}/.tuning-bench.db",
                      study_name=f"grid-vs-tpe-{pruner}-{uuid.uuid4().hex[:8]}", threads=threads,
                      space_overrides=space, seed=0, sampler_seed=seed, refit=False)
        table = result.trials.sort_values("number")
        history, best = [], -np.inf
        for _, row in table.iterrows():
            if row["state"] == "COMPLETE":
                best = max(best, float(row["value"]))
            history.append((row["datetime_complete"].timestamp() - started_wall, best))
        reached = _first_reach(history, grid_best)
        return {
            "seed": seed,
            "trials": result.counts,
            "best_cv_auc": float(result.best_value),
            "seconds": round(time.time() - started_wall, 2),
            "seconds_to_grid_best": None if reached is None else round(reached, 2),
            "share_of_grid_time": None if reached is None else round(reached / grid_seconds, 4),
            "trials_to_grid_best": None if reached is None else
            int(next(i for i, (s, _) in enumerate(history) if s >= reached)) + 1,
        }

    results = {}
    for i, pruner in enumerate(pruners):
        runs = [race(pruner, seed) for seed in range(tpe_seeds if i == 0 else 1)]
        results[pruner] = dict(runs[0])
        if len(runs) > 1:
            # a seed that never reached the grid's best counts as slower than any that did
            shares = [r["share_of_grid_time"] if r["share_of_grid_time"] is not None
                      else float("inf") for r in runs]
            median = float(np.median(shares))
            results[pruner]["by_seed"] = runs
            results[pruner]["median_share_of_grid_time"] = None if np.isinf(median) else median
    return {"grid_name": grid_name, "rows": int(len(y)), "folds": folds, "rounds": rounds,
            "threads": threads,
            "grid": {"combinations": n_grid, "fits": n_grid * folds,
                     "seconds": round(grid_seconds, 2), "best_cv_auc": grid_best,
                     "best_params": grid.best_params_},
            "tpe": results[pruners[0]], "tpe_pruner": pruners[0],
            "tpe_by_pruner": results, "tpe_no_pruning": results.get("none"),
            "tpe_time_limit_share": tpe_share, "target_share": 0.25}


def _workers(frame: pd.DataFrame, trials: int, rows: int) -> dict[str, Any]:
    import optuna

    from lathe.tuning import tune
    from lathe.tuning._study import close_storage, open_storage

    sample = frame.sample(rows, random_state=0) if len(frame) > rows else frame
    space = {"n_estimators": 150, "early_stopping_rounds": 20}
    out: dict[str, Any] = {"storage": PG_URL, "trials": trials, "rows": int(len(sample)),
                           "trial_threads": 1}
    for workers in (1, 4):
        name = f"lathe-bench-{workers}w-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        result = tune(sample, "income", trials=trials, workers=workers, storage=PG_URL,
                      study_name=name, threads=1, space_overrides=space, seed=0, refit=False)
        seconds = time.perf_counter() - started
        numbers = sorted(result.trials["number"])
        out[f"workers_{workers}"] = {
            "seconds": round(seconds, 2), "counts": result.counts,
            "exact_trials": numbers == list(range(trials)),
            "processes": int(result.trials["user_attrs_pid"].nunique()),
            "best_auc": float(result.best_value)}
        storage = open_storage(PG_URL)
        optuna.delete_study(study_name=name, storage=storage)
        close_storage(storage)
    out["speedup"] = round(out["workers_1"]["seconds"] / out["workers_4"]["seconds"], 3)
    out["target_speedup"] = 1.6
    return out


def _tuned_vs_best(frame: pd.DataFrame, trials: int, timeout: float, budget: float,
                   threads: int) -> dict[str, Any]:
    import lathe.api
    from lathe.tuning import tune

    started = time.perf_counter()
    untuned = lathe.api.train(frame, "income", preset="best", time_budget_s=budget,
                              threads=threads)
    untuned_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = tune(frame, "income", trials=trials, timeout_s=timeout, threads=threads,
                  storage=f"sqlite:///{RESULTS.parent}/.tuning-bench.db",
                  study_name=f"tuned-{uuid.uuid4().hex[:8]}", seed=0, bag_folds=5)
    tuned_seconds = time.perf_counter() - started
    keys = ("roc_auc", "accuracy", "log_loss")
    best_test = untuned.manifest["metrics"]["test"]
    bagged_test = result.model.manifest["metrics"]["test"]
    # the same best parameters refitted once (what `lathe tune` does without --bag)
    from lathe.evaluation.metrics import compute_metrics
    from lathe.tuning.search import refit_family

    prepared = result._context["prepared"]
    single = refit_family(result, result.best_params)
    single_test = compute_metrics("binary", prepared.y_test, single.predict_raw(prepared.X_test),
                                  prepared.schema.classes)
    return {"test_rows": int(best_test["n_rows"]),
            "untuned_best_preset": {"seconds": round(untuned_seconds, 1),
                                    **{k: best_test[k] for k in keys}},
            "tuned_gbm": {"trials": result.counts, "best_params": result.best_params,
                          **{k: single_test[k] for k in keys}},
            "tuned_gbm_bagged_5": {"seconds_tune_and_bag": round(tuned_seconds, 1),
                                   **{k: bagged_test[k] for k in keys}},
            "auc_gain": round(single_test["roc_auc"] - best_test["roc_auc"], 5),
            "auc_gain_bagged": round(bagged_test["roc_auc"] - best_test["roc_auc"], 5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="grid,workers,tuned")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--tpe-share", type=float, default=0.5,
                        help="TPE's time limit as a share of the grid's wall time")
    parser.add_argument("--pruners", default="median",
                        help="TPE runs against the same grid run, one per pruner: "
                             "median, halving, hyperband, none (the first is the headline)")
    parser.add_argument("--tpe-seeds", type=int, default=1,
                        help="TPE runs with sampler seeds 0..K-1 for the first pruner; the "
                             "median share of the grid's time is the headline")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grid", default="coarse,fine",
                        help="which grids to race TPE against: coarse (36 points), fine (243)")
    parser.add_argument("--grid-trials", type=int, default=None,
                        help="TPE's trial cap (default: the grid's number of points)")
    parser.add_argument("--trials", type=int, default=200, help="trials of the workers study")
    parser.add_argument("--rows", type=int, default=4000, help="row sample for the workers study")
    parser.add_argument("--tuned-trials", type=int, default=25)
    parser.add_argument("--tuned-timeout", type=float, default=150.0)
    parser.add_argument("--best-budget", type=float, default=90.0)
    args = parser.parse_args(argv)
    frame = pd.read_csv(DATA)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    report: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    report["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "platform": platform.platform()}
    report["data"] = os.path.relpath(DATA, Path(__file__).resolve().parents[1])
    if "grid" in parts:
        for name in args.grid.split(","):
            points = len(list(itertools.product(*GRIDS[name].values())))
            key = "grid_vs_tpe" if name == "coarse" else f"grid_vs_tpe_{name}"
            report[key] = _grid_vs_tpe(frame, args.folds, args.rounds, args.threads,
                                       args.grid_trials or points, args.tpe_share,
                                       tuple(args.pruners.split(",")), name, args.tpe_seeds)
    if "workers" in parts:
        report["workers_postgres"] = _workers(frame, args.trials, args.rows)
    if "tuned" in parts:
        report["tuned_vs_untuned"] = _tuned_vs_best(frame, args.tuned_trials, args.tuned_timeout,
                                                    args.best_budget, args.threads)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # parts not run this time keep their last measurement
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**previous, **report}, indent=2, default=str) + "\n")
    _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    for g in (report.get("grid_vs_tpe"), report.get("grid_vs_tpe_fine")):
        if not g:
            continue
        name = g.get("grid_name", "coarse")
        rows += [(f"{name} grid: combinations x folds",
                  f"{g['grid']['combinations']} x {g['folds']}"),
                 (f"{name} grid: wall time / best CV AUC",
                  f"{g['grid']['seconds']} s / {g['grid']['best_cv_auc']:.5f}")]
        by_pruner = g.get("tpe_by_pruner") or {"median": g.get("tpe")}
        for pruner, t in by_pruner.items():
            if not t:
                continue
            rows.append((f"{name} tpe/{pruner}: best CV AUC / trials",
                         f"{t['best_cv_auc']:.5f} / {t['trials']}"))
            rows.append((f"{name} tpe/{pruner}: time to grid best (share)",
                         f"{t['seconds_to_grid_best']} s ({t['share_of_grid_time']})"))
            if t.get("by_seed"):
                rows.append((f"{name} tpe/{pruner}: share by seed, median",
                             f"{[r['share_of_grid_time'] for r in t['by_seed']]}, "
                             f"{t['median_share_of_grid_time']}"))
    w = report.get("workers_postgres")
    if w:
        for n in (1, 4):
            r = w[f"workers_{n}"]
            rows.append((f"{n} worker(s), {w['trials']} trials",
                         f"{r['seconds']} s, exact={r['exact_trials']}, pids={r['processes']}"))
        rows.append(("speedup 4 vs 1 (target 1.6)", str(w["speedup"])))
    t = report.get("tuned_vs_untuned")
    if t:
        rows.append(("untuned best preset: test AUC", f"{t['untuned_best_preset']['roc_auc']:.5f}"))
        rows.append(("tuned gbm: test AUC", f"{t['tuned_gbm']['roc_auc']:.5f}"))
        rows.append(("AUC gain", str(t["auc_gain"])))
        if "tuned_gbm_bagged_5" in t:
            rows.append(("tuned gbm bagged x5: test AUC",
                         f"{t['tuned_gbm_bagged_5']['roc_auc']:.5f}"))
            rows.append(("AUC gain bagged", str(t["auc_gain_bagged"])))
    width = max(len(k) for k, _ in rows) if rows else 0
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
