"""Compression benchmark: every method's parent-vs-child table from one run.

Banking77 (../shared/data/banking77/train.csv, 80/20 stratified split, seed 0): a `text`
model (frozen all-MiniLM-L6-v2 + linear head, predicting through fp32 PyTorch) is compressed
with int8 (ONNX Runtime, `auto` scheme), distill (TF-IDF + logistic regression, 4-layer
encoder, both blended, and a 3-layer encoder blended with TF-IDF), and prune: structured (attention heads + FFN neurons) at 30 %
and 50 %, 30 % without the recovery fine-tune, and 30 % magnitude. Adult (bundled
examples/data/adult.csv): a GBM pruned to fewer trees and distilled into a small GBM, and an
mlp pruned structurally (50 % and 80 % of its hidden neurons, 80 % also without recovery)
and by magnitude (50 %).
Each child is measured next to its parent on the same held-out rows; the targets from issue 6
are checked and everything goes to bench/results/compression.json.

    .venv/bin/python bench/compression.py                  # ~30 min on 2 cores
    .venv/bin/python bench/compression.py --only tabular   # the Adult part only (~1 min)
    .venv/bin/python bench/compression.py --only text --methods prune   # Banking77 pruning

`--methods` runs only the listed methods; the other runs are kept from the previous results.

Targets: int8 size <= 30 % of fp32, batch-1 latency <= 50 % of the fp32 PyTorch path,
accuracy drop <= 0.5 pt; distilled student >= 3x rows/s with <= 1.5 pt accuracy drop;
structured pruning at its default sparsity within `Prune.max_drop` of the parent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to the repository, as the project layout has it
DATA_ROOT = Path(os.environ.get("LATHE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = ROOT / "bench" / "results" / "compression.json"
THREADS = 2


def _split(frame: pd.DataFrame, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame[label])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _parent(family: Any, schema: Any, path: Path, source: str) -> Path:
    from lathe.api import Model

    Model(family, schema, {"lineage": {"dataset": source}}).save(path)
    return path


def _fit_data(schema: Any, train: pd.DataFrame, label: str) -> Any:
    from lathe.data.infer import encode_labels
    from lathe.models import FitData

    part, valid = _split(train, label)
    X, _ = schema.conform(part)
    Xv, _ = schema.conform(valid)
    return FitData(schema, X, encode_labels(part[label], schema), Xv,
                   encode_labels(valid[label], schema), seed=0, threads=THREADS)


def text_runs(work: Path, methods: set[str] | None) -> list[dict[str, Any]]:
    import lathe.models.int8  # noqa: F401  (registers the onnx-int8 family for loading)
    from lathe.data.infer import infer_schema
    from lathe.models.text import TextModel

    frame = pd.read_csv(DATA_ROOT / "banking77" / "train.csv")
    frame = frame[frame["category"].notna()].reset_index(drop=True)
    train, test = _split(frame, "category")
    schema = infer_schema(train, "category", text_columns=["text"])
    started = time.perf_counter()
    family = TextModel(mode="frozen").fit(_fit_data(schema, train, "category"))
    family.params["bf16"] = False  # the parent predicts through the fp32 PyTorch path
    print(f"text parent trained in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    parent = _parent(family, schema, work / "banking77-text", "banking77/train.csv")
    return _run_all(parent, "banking77", "text", TEXT_RUNS, train, test, work, methods)


TEXT_RUNS: list[tuple[str, dict[str, Any]]] = [
    ("int8", {}),
    ("distill", {"student": "linear"}),
    ("distill", {"student": "small-encoder"}),
    ("distill", {"student": "small-encoder+linear"}),
    ("distill", {"student": "tiny-encoder+linear"}),
    ("prune", {"kind": "structured", "sparsity": 0.3}),
    ("prune", {"kind": "structured", "sparsity": 0.5}),
    ("prune", {"kind": "structured", "sparsity": 0.3, "recover": False}),
    ("prune", {"kind": "magnitude", "sparsity": 0.3}),
]
MLP_RUNS: list[tuple[str, dict[str, Any]]] = [
    ("prune", {"kind": "structured", "sparsity": 0.5}),
    ("prune", {"kind": "structured", "sparsity": 0.8}),
    ("prune", {"kind": "structured", "sparsity": 0.8, "recover": False}),
    ("prune", {"kind": "magnitude", "sparsity": 0.5}),
]


def _label(method: str, extra: dict[str, Any]) -> str:
    parts = [method] + [str(v) for k, v in extra.items() if k != "recover"]
    return "-".join(parts) + ("-no-recover" if extra.get("recover") is False else "")


def _run_all(parent: Path, dataset: str, family: str, plan: list[tuple[str, dict[str, Any]]],
             train: pd.DataFrame, test: pd.DataFrame, work: Path,
             methods: set[str] | None) -> list[dict[str, Any]]:
    from lathe.compression import compress

    runs = []
    for method, extra in plan:
        if methods is not None and method not in methods:
            continue
        label = _label(method, extra)
        started = time.perf_counter()
        report = compress(parent, method, data=train, eval_data=test,
                          out=work / f"{dataset}-{family}-{label}", **extra)
        report["seconds"] = round(time.perf_counter() - started, 1)
        runs.append({"dataset": dataset, "parent_family": family, "label": label, **report})
        print(f"{dataset} {family} {label} done in {report['seconds']}s", file=sys.stderr)
    return runs


def tabular_runs(work: Path, methods: set[str] | None) -> list[dict[str, Any]]:
    from lathe.data.infer import infer_schema
    from lathe.models.gbm import GBM
    from lathe.models.mlp import MLP

    frame = pd.read_csv(ROOT / "examples" / "data" / "adult.csv")
    train, test = _split(frame, "income")
    schema = infer_schema(train, "income")
    fit = _fit_data(schema, train, "income")
    gbm = _parent(GBM(num_leaves=63, learning_rate=0.03).fit(fit), schema, work / "adult-gbm",
                  "examples/data/adult.csv")
    runs = _run_all(gbm, "adult", "gbm", [("prune", {}), ("distill", {})], train, test, work,
                    methods)
    if methods is None or "prune" in methods:
        mlp = _parent(MLP().fit(fit), schema, work / "adult-mlp", "examples/data/adult.csv")
        runs += _run_all(mlp, "adult", "mlp", MLP_RUNS, train, test, work, methods)
    return runs


def targets(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by = {(r["dataset"], r["method"]): r["table"] for r in runs}
    out: dict[str, dict[str, Any]] = {}
    if ("banking77", "int8") in by:
        t = by[("banking77", "int8")]
        out["int8_size_ratio<=0.30"] = _check(t["size_bytes"]["ratio"], 0.30, "<=")
        out["int8_batch1_latency_ratio<=0.50"] = _check(t["latency_ms_p50_batch1"]["ratio"],
                                                        0.50, "<=")
        out["int8_accuracy_drop_pt<=0.5"] = _check(-100 * t["accuracy"]["delta"], 0.5, "<=")
    from lathe.compression.prune import Prune

    for run in runs:
        settings = run["settings"]
        if (run["method"] == "prune" and settings.get("kind") == "structured"
                and settings.get("sparsity")
                == Prune.default_sparsity["structured"][run["parent_family"]]
                and settings.get("recovery_fine_tune")):
            metric = "accuracy" if run["dataset"] == "banking77" else "roc_auc"
            bound = Prune.max_drop[metric]
            out[f"prune_structured_{run['parent_family']}_{metric}_drop<={bound}"] = _check(
                -run["table"][metric]["delta"], bound, "<=")
    for run in runs:
        if run["dataset"] != "banking77" or run["method"] != "distill":
            continue
        t, student = run["table"], run["settings"]["student"]
        out[f"distill_{student}_rows_per_s_ratio>=3"] = _check(t["rows_per_second"]["ratio"],
                                                               3.0, ">=")
        out[f"distill_{student}_accuracy_drop_pt<=1.5"] = _check(-100 * t["accuracy"]["delta"],
                                                                 1.5, "<=")
    return out


def _check(value: float, bound: float, op: str) -> dict[str, Any]:
    ok = value <= bound if op == "<=" else value >= bound
    return {"value": round(float(value), 4), "bound": bound, "met": bool(ok)}


def main(argv: list[str] | None = None) -> int:
    from lathe.compression.measure import format_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["text", "tabular"])
    parser.add_argument("--methods", help="comma-separated: int8,distill,prune (default all)")
    args = parser.parse_args(argv)
    methods = set(args.methods.split(",")) if args.methods else None
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    import torch

    torch.set_num_threads(THREADS)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lathe-bench-compression-") as tmp:
        if args.only in (None, "tabular"):
            runs += tabular_runs(Path(tmp), methods)
        if args.only in (None, "text"):
            runs += text_runs(Path(tmp), methods)
    for run in runs:
        if "table" not in run:
            continue
        print(f"\n== {run['dataset']}: {run['parent']['family']} -> {run.get('label')} "
              f"({run['child']['family']}), {run['evaluation']['rows']} held-out rows, "
              f"agreement {run['agreement']:.4f}")
        print(format_table(run["table"]))
    if (args.only or methods) and RESULTS.exists():  # keep the runs this one did not redo
        redone = {(r["dataset"], r["parent_family"], r["method"]) for r in runs}
        datasets = {"text": {"banking77"}, "tabular": {"adult"}}.get(args.only or "",
                                                                   {"banking77", "adult"})
        old = json.loads(RESULTS.read_text()).get("runs", [])
        runs = [r for r in old if (r["dataset"], r["parent_family"], r["method"]) not in redone
                and (r["dataset"] not in datasets or methods is not None)] + runs
    checks = targets(runs)
    for name, check in checks.items():
        print(f"{'MET ' if check['met'] else 'MISS'} {name}: {check['value']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"threads": THREADS, "runs": [{k: v for k, v in r.items() if k != "artifact"}
                                            for r in runs], "targets": checks}
    RESULTS.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
