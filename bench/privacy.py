"""Privacy bench (issue #24): DP accuracy on Adult against the non-private model and against
diffprivlib's LogisticRegression, membership-inference AUC of an overfitted mlp and of its
private twin, PII precision/recall per type and masking throughput, DP statistics' error.

    .venv/bin/python bench/privacy.py                    # everything, 3 repeats at eps=1
    .venv/bin/python bench/privacy.py --parts pii,stats  # the quick parts
    .venv/bin/python bench/privacy.py --repeats 1 --curve 0.5,1,3,8

Adult is read from ../shared/data/adult/train.csv (override with LATHE_DATA). 20 % of it is
held out (stratified, seed 0) and never seen by any model; lathe trains on the rest with its
own 90/10 train/valid split (no test split). The diffprivlib baseline needs a scikit-learn
older than lathe's, so it runs in bench/.venvs/dpl (made by hand: python3.11 -m venv
bench/.venvs/dpl && bench/.venvs/dpl/bin/pip install diffprivlib==0.6.6 'scikit-learn<1.7')
on the same features as lathe's private linear model (its DP bounds and vocabularies), given
the whole epsilon (lathe spends 20 % of it on those features). Prints medians and ratios,
writes bench/results/privacy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LATHE_DATA", ROOT.parent / "shared" / "data")) / "adult" / "train.csv"
DPL = ROOT / "bench" / ".venvs" / "dpl" / "bin" / "python"
OUT = ROOT / "bench" / "results" / "privacy.json"
sys.path.insert(0, str(ROOT / "tests" / "unit" / "privacy"))

DPL_SCRIPT = """
import sys, json, numpy as np
from diffprivlib.models import LogisticRegression
d = np.load(sys.argv[1]); eps = float(sys.argv[2])
accs = []
for seed in range(int(sys.argv[3])):
    m = LogisticRegression(epsilon=eps, data_norm=float(d["norm"]), random_state=seed,
                           max_iter=500).fit(d["X"], d["y"])
    accs.append(float((m.predict(d["Xt"]) == d["yt"]).mean()))
print(json.dumps(accs))
"""


def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(DATA)
    return train_test_split(frame, test_size=0.2, stratify=frame["income"], random_state=0)


def _accuracy(model: Any, held: pd.DataFrame) -> float:
    return float((model.predict(held) == held["income"].to_numpy()).mean())


def _train(rows: pd.DataFrame, family: str, eps: float | None, seed: int) -> Any:
    import lathe
    from lathe.config import load_config

    cfg = load_config(None, split__valid_size=0.1, split__test_size=0.0, train__refit=False)
    return lathe.train(rows, "income", model=family, config=cfg, seed=seed, threads=1,
                       **({"dp_epsilon": eps, "dp_delta": 1e-5} if eps else {}))


def accuracy_part(repeats: int, curve: list[float]) -> dict[str, Any]:
    rows, held = _split()
    out: dict[str, Any] = {"rows": len(rows), "held_out": len(held), "runs": []}
    for family in ("mlp", "linear"):
        for eps in [*curve, None]:
            n = repeats if eps in (1.0, None) else 1
            for seed in range(n):
                started = time.perf_counter()
                model = _train(rows, family, eps, seed)
                run = {"family": family, "epsilon": eps, "seed": seed,
                       "accuracy": _accuracy(model, held),
                       "seconds": time.perf_counter() - started,
                       "spent": (model.manifest.get("privacy") or {}).get("epsilon")}
                out["runs"].append(run)
                print(f"  {family:6} eps={eps!s:5} seed={seed} acc={run['accuracy']:.4f} "
                      f"{run['seconds']:.0f}s", flush=True)
                if family == "linear" and eps == 1.0 and seed == 0:
                    out["diffprivlib"] = _diffprivlib(model, rows, held, repeats)
    table: dict[str, dict[str, list[float]]] = {}
    for run in out["runs"]:
        key = "non-private" if run["epsilon"] is None else f"eps={run['epsilon']:g}"
        table.setdefault(run["family"], {}).setdefault(key, []).append(run["accuracy"])
    out["median_accuracy"] = {f: {k: statistics.median(v) for k, v in t.items()}
                              for f, t in table.items()}
    return out


def _diffprivlib(linear_dp: Any, rows: pd.DataFrame, held: pd.DataFrame,
                 repeats: int) -> dict[str, Any]:
    if not DPL.exists():
        return {"skipped": f"no {DPL} (see this file's docstring)"}
    from lathe.data.infer import encode_labels
    from lathe.models.linear import _categories_as_text

    features = linear_dp.family.pipeline.named_steps["features"]
    schema = linear_dp.schema
    cats = schema.names_of("categorical")

    def matrix(frame: pd.DataFrame) -> np.ndarray:
        X, _ = schema.conform(frame)
        return np.asarray(features.transform(_categories_as_text(X, cats)), dtype=float)

    X, Xt = matrix(rows), matrix(held)
    norm = float(np.sqrt(np.max((X ** 2).sum(axis=1))))  # a public bound: sqrt(#columns)
    norm = max(norm, float(np.sqrt(len(schema.feature_names))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        np.savez(path, X=X, y=encode_labels(rows["income"], schema), Xt=Xt,
                 yt=encode_labels(held["income"], schema), norm=norm)
        done = subprocess.run([str(DPL), "-c", DPL_SCRIPT, str(path), "1.0", str(repeats)],
                              capture_output=True, text=True, timeout=1800)
    if done.returncode:
        return {"error": done.stderr[-800:]}
    accs = json.loads(done.stdout)
    return {"epsilon": 1.0, "accuracies": accs, "median_accuracy": statistics.median(accs),
            "data_norm": norm}


def audit_part(n_members: int, epochs: int) -> dict[str, Any]:
    from lathe.api._privacy import reference_fitter
    from lathe.config import PrivacyConfig
    from lathe.data.infer import encode_labels, infer_schema
    from lathe.models import FitData
    from lathe.models.mlp import MLP
    from lathe.privacy.audit import membership_audit
    from lathe.training.private import prepare_private

    frame = pd.read_csv(DATA).sample(frac=1, random_state=1)
    members, others = frame.iloc[:n_members], frame.iloc[n_members:n_members * 4]
    out: dict[str, Any] = {"members": n_members, "epochs": epochs}
    for name, eps in (("overfitted", None), ("dp_eps1", 1.0)):
        schema = infer_schema(members, "income")
        X, _ = schema.conform(members)
        y = encode_labels(members["income"], schema)
        extra = {}
        if eps is not None:
            extra["dp"], _ = prepare_private(PrivacyConfig(epsilon=eps, batch_size=128),
                                             schema, X, "mlp")
            X, _ = schema.conform(members)  # the vocabularies are the private ones now
        params = {"hidden_sizes": [256, 256], "dropout": 0.0, "weight_decay": 0.0,
                  "max_epochs": epochs, "patience": epochs, "lr": 3e-3}
        # validating on the training rows: early stopping never stops, the net memorises
        family = MLP(**params).fit(FitData(schema, X, y, X, y, threads=1, extra=extra))
        model = types.SimpleNamespace(family=family, schema=schema, manifest={})
        started = time.perf_counter()
        report = membership_audit(model, members, others, shadows=4,
                                  fit_reference=reference_fitter(model, threads=1))
        report["seconds"] = time.perf_counter() - started
        out[name] = report
        print(f"  {name}: " + ", ".join(f"{k} AUC {v['auc']:.3f} {v['auc_ci']}"
                                        for k, v in report["attacks"].items()), flush=True)
    return out


def pii_part(per_type: int, texts: int) -> dict[str, Any]:
    from pii_cases import make_cases, score

    from lathe.privacy.pii import Masker, detect

    cases = make_cases(per_type, seed=7)
    out: dict[str, Any] = {"per_type": score(cases), "cases": len(cases)}
    pool = [t for t, _ in make_cases(max(1, texts // 20), seed=8)]
    batch = [pool[i % len(pool)] for i in range(texts)]
    seconds = []
    for _ in range(3):
        masker = Masker("redact")
        started = time.perf_counter()
        masked = [masker.mask(t) for t in batch]
        seconds.append(time.perf_counter() - started)
    out["mask_texts"] = texts
    out["mask_seconds_median"] = statistics.median(seconds)
    out["left_after_mask"] = sum(bool(detect(t)) for t in masked[:5000])
    return out


def stats_part(draws: int) -> dict[str, Any]:
    from lathe.privacy.stats import private_stats

    frame = pd.read_csv(DATA)
    truth = {"count": len(frame), "mean_age": float(frame["age"].mean())}
    errors: dict[str, list[float]] = {"count": [], "mean_age": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(draws):
            got = private_stats(DATA, epsilon=0.5, count=True, means=["age"],
                                bounds={"age": (0, 100)}, ledger=Path(tmp) / "b.json",
                                budget=1e9)["results"]
            errors["count"].append(abs(got["count"]["value"] - truth["count"]))
            errors["mean_age"].append(abs(got["mean"]["age"]["value"] - truth["mean_age"]))
    # Laplace b = 1/0.25 for the count: median |noise| = b ln 2
    return {"epsilon": 0.5, "truth": truth, "draws": draws,
            "median_abs_error": {k: statistics.median(v) for k, v in errors.items()},
            "expected_median_abs_error_count": (1 / 0.25) * np.log(2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="accuracy,audit,pii,stats")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--curve", default="0.5,1,3,8")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--audit-epochs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    # parts run separately accumulate in one file (each part replaces its own entry)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = f"{os.cpu_count()} cores, shared with other builds"

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=float))

    if "pii" in parts:
        results["pii"] = pii_part(500, 100_000)
        worst = min(min(v["precision"], v["recall"]) for v in results["pii"]["per_type"].values())
        print(f"PII: worst precision/recall over types {worst:.4f}; 100k texts masked in "
              f"{results['pii']['mask_seconds_median']:.1f} s (median of 3)")
        save()
    if "stats" in parts:
        results["stats"] = stats_part(21)
        print(f"stats eps=0.5: median |error| {results['stats']['median_abs_error']}")
        save()
    if "audit" in parts:
        results["audit"] = audit_part(args.members, args.audit_epochs)
        save()
    if "accuracy" in parts:
        results["accuracy"] = accuracy_part(args.repeats, [float(e) for e in
                                                           args.curve.split(",")])
        acc = results["accuracy"]["median_accuracy"]
        for family, row in acc.items():
            base = row["non-private"]
            print(f"{family:6} " + "  ".join(f"{k} {v:.4f} ({v / base:.3f}x)"
                                             for k, v in row.items()))
        print(f"diffprivlib LR eps=1: {results['accuracy'].get('diffprivlib')}")
    save()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
