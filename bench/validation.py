"""Validation benchmark (issue 27): fairness against Fairlearn, mitigation, robustness of the
Banking77 text model under typos, mixed English/Chinese text, Chinese `auto` against a plain
character n-gram baseline, and the time of `lathe validate`'s default suite on Adult.

Parts (each prints a table; everything goes to bench/results/validation.json):
  fairness    Adult 50/50 (16k train, 16k held out), gbm fast, --sensitive sex,race: max
              |lathe - fairlearn| over group metrics; ThresholdOptimizer EO reduction, cost
  speed       `validate` default suite on the 16k Adult rows (median of --repeats runs)
  robustness  Banking77 80/20: fast, best, int8 (of fast) under typos (1 per 10 characters)
  mixed       SST-2 + ChnSentiCorp, binary sentiment, no language column: auto on the mixed
              rows vs auto on each language alone, per-language accuracy; detection accuracy
  chinese     auto vs TF-IDF char 1-3 grams + logistic regression on SIB-200 Chinese (topics)
              and ChnSentiCorp, same split

    .venv/bin/python bench/validation.py                          # everything
    .venv/bin/python bench/validation.py --parts fairness,speed --seeds 0,1,2

>>> sorted(PARTS)
['chinese', 'fairness', 'mixed', 'robustness', 'speed']
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA = Path(os.environ.get("LATHE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results" / "validation.json"


def _adult(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(DATA / "adult" / "train.csv").sample(frac=1.0, random_state=seed)
    return frame.iloc[:16000].reset_index(drop=True), frame.iloc[16000:32000].reset_index(drop=True)


def fairness(seed: int) -> dict[str, Any]:
    import lathe
    from lathe.validation._scored import score_rows
    from lathe.validation.fairness import group_fairness, sensitive_groups
    from lathe.validation.mitigation import mitigate

    train, held = _adult(seed)
    model = lathe.train(train, target="income", preset="fast", threads=2, seed=seed)
    scored = score_rows(model, held)
    y = (scored.y == scored.positive).astype(int)
    p = (scored.pred == scored.positive).astype(int)
    out: dict[str, Any] = {}
    for column in ("sex", "race"):
        groups = sensitive_groups(scored, column)
        ours = group_fairness(y, p, groups, engine="sklearn")
        theirs = group_fairness(y, p, groups, engine="fairlearn")
        diff = max(abs(ours["groups"][g][k] - theirs["groups"][g][k])
                   for g in ours["groups"] for k in ("selection_rate", "tpr", "fpr", "accuracy")
                   if np.isfinite(ours["groups"][g][k]))
        diff = max(diff, *(abs(ours[k] - theirs[k]) for k in (
            "demographic_parity_difference", "equalized_odds_difference")))
        fix = mitigate(scored, column, seed=seed)
        out[column] = {"max_abs_diff_vs_fairlearn": diff,
                       "dp_difference": theirs["demographic_parity_difference"],
                       "eo_difference": theirs["equalized_odds_difference"],
                       "eo_before": fix["before"]["equalized_odds_difference"],
                       "eo_after": fix["after"]["equalized_odds_difference"],
                       "eo_reduction": fix["equalized_odds_difference_reduction"],
                       "eo_after_expected": fix["after_expected"]["equalized_odds_difference"],
                       "eo_reduction_expected":
                           fix["expected_equalized_odds_difference_reduction"],
                       "pooled_groups": fix["pooled_groups"],
                       "accuracy_cost": fix["accuracy_cost"]}
    return out


def speed(seed: int) -> dict[str, Any]:
    import lathe

    train, held = _adult(seed)
    with tempfile.TemporaryDirectory() as tmp:
        model = lathe.train(train, target="income", preset="fast", threads=2, seed=seed)
        model.save(Path(tmp) / "adult")
        train.to_csv(Path(tmp) / "train.csv", index=False)
        held.to_csv(Path(tmp) / "held.csv", index=False)
        started = time.perf_counter()
        result = lathe.validate(Path(tmp) / "adult", Path(tmp) / "held.csv",
                                train=Path(tmp) / "train.csv")
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result["n_rows"], "checks": len(result["checks"]),
            "passed": result["passed"], "worst_slices": len(result["worst_slices"]["slices"])}


def robustness(seed: int) -> dict[str, Any]:
    import lathe
    from lathe.validation._scored import score_rows
    from lathe.validation.robustness import run_robustness

    frame = pd.read_csv(DATA / "banking77" / "train.csv").sample(frac=1.0, random_state=seed)
    cut = int(len(frame) * 0.8)
    train, held = frame.iloc[:cut], frame.iloc[cut:].reset_index(drop=True)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("fast", "best"):
            model = lathe.train(train, target="category", preset=preset, threads=2, seed=seed)
            model.save(Path(tmp) / preset)
            out[preset] = _typos(lathe.load(Path(tmp) / preset), held, score_rows,
                                 run_robustness)
            if preset == "fast":
                lathe.compress(Path(tmp) / "fast", "int8", out=Path(tmp) / "int8",
                               data=train.sample(2000, random_state=seed))
                out["int8"] = _typos(lathe.load(Path(tmp) / "int8"), held, score_rows,
                                     run_robustness)
    return out


def _typos(model: Any, held: pd.DataFrame, score_rows: Callable[..., Any],
           run: Callable[..., Any]) -> dict[str, Any]:
    result = run(model, score_rows(model, held), ["typos"], max_rows=len(held))
    return {k: result["robustness"]["typos"][k] for k in ("accuracy", "accuracy_perturbed",
                                                          "accuracy_drop", "flip_rate")}


def _accuracy(model: Any, rows: pd.DataFrame, label: str) -> float:
    """Labels compared as text: a model returns its classes as it stored them."""
    return float(np.mean(model.predict(rows).astype(str) == rows[label].astype(str).to_numpy()))


def mixed(seed: int) -> dict[str, Any]:
    import lathe
    from lathe.validation.language import detect_languages

    en = pd.read_csv(DATA / "sst2" / "train.csv").sample(6000, random_state=seed)
    zh = pd.read_csv(DATA / "chnsenticorp_htl" / "train.csv").dropna().sample(
        6000, random_state=seed)
    en = en.rename(columns={"sentence": "text"})[["text", "label"]].assign(lang="en")
    zh = zh.rename(columns={"review": "text"})[["text", "label"]].assign(lang="zh")
    both = pd.concat([en, zh]).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = int(len(both) * 0.8)
    train, held = both.iloc[:cut], both.iloc[cut:]
    found = detect_languages(both["text"])
    out: dict[str, Any] = {"detection_accuracy": float(np.mean(found == both["lang"]))}
    model = lathe.train(train.drop(columns="lang"), target="label", threads=2, seed=seed)
    out["mixed_family"] = model.family.name
    out["mixed_column_language"] = model.schema.column("text").language
    for lang in ("en", "zh"):
        rows = held[held.lang == lang]
        alone = lathe.train(train[train.lang == lang].drop(columns="lang"), target="label",
                            threads=2, seed=seed)
        out[lang] = {"mixed": _accuracy(model, rows, "label"),
                     "alone": _accuracy(alone, rows, "label"),
                     "alone_family": alone.family.name, "n": int(len(rows))}
        out[lang]["gap_pt"] = 100 * (out[lang]["alone"] - out[lang]["mixed"])
    return out


def chinese(seed: int) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    import lathe

    sets = {"sib200_zho_hans": (pd.concat([pd.read_csv(DATA / "sib200_zho_hans" / f)
                                           for f in ("train.csv", "dev.csv")]), "text",
                                "category"),
            "chnsenticorp": (pd.read_csv(DATA / "chnsenticorp_htl" / "train.csv").dropna(),
                             "review", "label")}
    out: dict[str, Any] = {}
    for name, (frame, text, label) in sets.items():
        frame = frame[[text, label]].dropna().reset_index(drop=True)
        train, held = train_test_split(frame, test_size=0.2, random_state=seed,
                                       stratify=frame[label])
        model = lathe.train(train, target=label, threads=2, seed=seed)
        auto = _accuracy(model, held, label)
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(vec.fit_transform(train[text]),
                                                            train[label])
        base = float(np.mean(clf.predict(vec.transform(held[text])) == held[label]))
        out[name] = {"auto": auto, "baseline": base, "family": model.family.name,
                     "n_test": int(len(held))}
    return out


PARTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "fairness": fairness, "speed": speed, "robustness": robustness, "mixed": mixed,
    "chinese": chinese}


def _medians(runs: list[dict[str, Any]]) -> Any:
    first = runs[0]
    if isinstance(first, dict):
        return {k: _medians([r[k] for r in runs]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(runs)
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for part in args.parts.split(","):
        started = time.perf_counter()
        runs = [PARTS[part](seed) for seed in seeds]
        result = {"seeds": seeds, "median": _medians(runs), "runs": runs,
                  "bench_seconds": time.perf_counter() - started}
        print(f"== {part} (median of {len(seeds)} seed(s)) ==")
        print(json.dumps(result["median"], indent=1, default=str))
        # read again just before writing: another run may have saved other parts meanwhile
        saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        saved[part] = result
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(saved, indent=1, default=str))


if __name__ == "__main__":
    main()
