"""Text quality benchmark: Banking77 and ChnSentiCorp on a held-out part of each training file.

Systems, all trained on the same rows (2 threads) and scored on the same held-out rows:
  * tfidf+logreg   — scikit-learn TF-IDF (word 1-2 grams) + logistic regression (baseline)
  * minilm+logreg  — frozen all-MiniLM-L6-v2 embeddings + scikit-learn logistic regression
  * frozen         — lathe `text` family alone, mode=frozen
  * finetune       — lathe `text` family alone, fine-tuned end to end for 3 epochs
  * fast, best     — `lathe train --model auto --preset fast|best` itself (lathe's 80/10/10
                     split, for English text the encoder blended with TF-IDF on the
                     validation split, then the refit on all rows)
Each prints accuracy, macro-F1, train seconds and predict rows/s; results go to
bench/results/text_quality.json.

    .venv/bin/python bench/text_quality.py                       # everything (~15 min)
    .venv/bin/python bench/text_quality.py --systems tfidf,frozen --dataset banking77
    .venv/bin/python bench/text_quality.py --dataset chnsenticorp --systems tfidf,fast --seeds 0,1,2

With several `--seeds` (each a new 80/20 split) the table shows medians; the JSON keeps every
run (`runs`, keyed by dataset, system and seed) and the medians over all runs kept.

>>> sorted(DATASETS)
['banking77', 'chnsenticorp']
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

# ../shared/data next to the repository, as the project layout has it
DATA_ROOT = Path(os.environ.get("LATHE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results" / "text_quality.json"
THREADS = 2
DATASETS = {
    "banking77": (DATA_ROOT / "banking77" / "train.csv", "text", "category"),
    "chnsenticorp": (DATA_ROOT / "chnsenticorp_htl" / "train.csv", "review", "label"),
}
SYSTEMS = ("tfidf", "minilm_logreg", "frozen", "finetune", "fast", "best")


def _split(name: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    path, text, label = DATASETS[name]
    frame = pd.read_csv(path)
    frame = frame[frame[label].notna()].reset_index(drop=True)
    frame[text] = frame[text].fillna("").astype(str)
    train, test = train_test_split(frame, test_size=0.2, random_state=seed,
                                   stratify=frame[label])
    return train.reset_index(drop=True), test.reset_index(drop=True), text, label


def _tfidf(train: pd.DataFrame, text: str, label: str, language: str | None) -> Callable:
    """The baseline stays fixed whatever lathe's own features become: word 1-2 grams
    (character 1-3 grams for Chinese, which has no spaces) + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    if language == "zh":
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                     min_df=2)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                     token_pattern=r"(?u)\b\w+\b")
    model = make_pipeline(vectorizer, LogisticRegression(C=10.0, max_iter=3000))
    model.fit(train[text], train[label].astype(str))
    return lambda frame: model.predict(frame[text])


def _minilm_logreg(train: pd.DataFrame, text: str, label: str, language: str | None) -> Callable:
    from lathe.models import _encoder

    tokenizer, encoder = _encoder.load_encoder(_encoder.default_encoder_path())
    emb = _encoder.embed_texts(train[text].tolist(), tokenizer, encoder)
    model = LogisticRegression(C=10.0, max_iter=3000).fit(emb, train[label].astype(str))
    return lambda frame: model.predict(_encoder.embed_texts(frame[text].tolist(), tokenizer,
                                                            encoder))


def _fit_data(train: pd.DataFrame, text: str, label: str,
              time_budget_s: float | None = None) -> Any:
    """The rows every lathe system fits on: 90 % to train, 10 % to validate (stratified)."""
    from lathe.data.infer import encode_labels, infer_schema
    from lathe.data.split import split_frame
    from lathe.models import FitData

    frame = train[[text, label]].copy()
    frame[label] = frame[label].astype(str)
    schema = infer_schema(frame, label, text_columns=[text])
    fit_part, valid_part, _ = split_frame(frame, label, valid_size=0.1, test_size=0.0,
                                          seed=0, stratify=True)
    return FitData(schema, schema.conform(fit_part)[0], encode_labels(fit_part[label], schema),
                   schema.conform(valid_part)[0], encode_labels(valid_part[label], schema),
                   seed=0, threads=THREADS, time_budget_s=time_budget_s)


def _log(event: str, info: dict[str, Any]) -> None:
    print(f"    {event} {info}", file=sys.stderr, flush=True)


def _predictor(model: Any, schema: Any) -> Callable:
    classes = np.asarray(schema.classes)
    return lambda part: classes[model.predict_raw(schema.conform(part)[0]).argmax(1)]


def _lathe(params: dict[str, Any]) -> Callable:
    """The `text` family alone with `params`."""
    def fit(train: pd.DataFrame, text: str, label: str, language: str | None) -> Callable:
        from lathe.models.text import TextModel

        data = _fit_data(train, text, label)
        model = TextModel(**params, cache_dir=tempfile.mkdtemp(prefix="lathe-bench-"))
        model.fit(data, [_log])
        return _predictor(model, data.schema)

    return fit


def _preset(preset: str) -> Callable:
    """`lathe train --model auto --preset PRESET` itself, on the same training rows as the
    other systems: lathe's own train/valid/test split, the preset's fit (the encoder blended
    with TF-IDF for English text, TF-IDF alone for Chinese), then the refit on every row."""
    def fit(train: pd.DataFrame, text: str, label: str, language: str | None) -> Callable:
        import lathe

        frame = train[[text, label]].copy()
        frame[label] = frame[label].astype(str)
        model = lathe.train(frame, label, model="auto", preset=preset, threads=THREADS,
                            text_columns=[text], progress=_log)
        print(f"    {preset}: {model.family.describe().get('weights', model.family.name)}; "
              f"refit {model.manifest['training']['refit']}", file=sys.stderr, flush=True)
        classes = np.asarray(model.classes)
        return lambda part: classes[model.predict_raw(part[[text]]).argmax(1)]

    return fit


def _system(name: str) -> Callable:
    return {
        "tfidf": _tfidf,
        "minilm_logreg": _minilm_logreg,
        "frozen": _lathe({"mode": "frozen"}),
        "finetune": _lathe({"mode": "finetune", "max_epochs": 3}),
        "fast": _preset("fast"),
        "best": _preset("best"),
    }[name]


def run(dataset: str, systems: list[str], seed: int = 0) -> list[dict[str, Any]]:
    from lathe.data.infer import detect_language

    train, test, text, label = _split(dataset, seed)
    language = detect_language(train[text].head(200))
    truth = test[label].astype(str).to_numpy()
    rows = []
    for name in systems:
        started = time.perf_counter()
        predict = _system(name)(train, text, label, language)
        train_s = time.perf_counter() - started
        started = time.perf_counter()
        predicted = np.asarray(predict(test)).astype(str)
        predict_s = time.perf_counter() - started
        row = {
            "dataset": dataset, "system": name, "seed": seed, "train_rows": len(train), "test_rows": len(test),
            "accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
            "train_s": round(train_s, 1),
            "predict_rows_per_s": round(len(test) / predict_s, 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, system): the median of each figure over the seeds run."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["system"]), []).append(r)
    out = []
    for (dataset, system), runs in groups.items():
        row: dict[str, Any] = {"dataset": dataset, "system": system,
                               "seeds": [r.get("seed", 0) for r in runs]}
        for key in ("accuracy", "macro_f1", "train_s", "predict_rows_per_s"):
            row[key] = round(float(np.median([r[key] for r in runs])), 4)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--seeds", default="0",
                        help="comma-separated split seeds; the table shows medians over them")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(THREADS)
    rows = []
    for dataset in args.dataset or ["banking77", "chnsenticorp"]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            rows += run(dataset, args.systems.split(","), seed)
    table = medians(rows)
    print(f"\n{'dataset':<14}{'system':<15}{'seeds':>10}{'accuracy':>9}{'macro-F1':>9}"
          f"{'train s':>9}{'rows/s':>9}   (medians)")
    for r in table:
        seeds = ",".join(map(str, r["seeds"]))
        print(f"{r['dataset']:<14}{r['system']:<15}{seeds:>10}{r['accuracy']:>9.4f}"
              f"{r['macro_f1']:>9.4f}{r['train_s']:>9.1f}{r['predict_rows_per_s']:>9.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs = previous if isinstance(previous, list) else previous.get("runs", [])
    fresh = {(x["dataset"], x["system"], x["seed"]) for x in rows}
    runs = [r for r in runs if (r["dataset"], r["system"], r.get("seed", 0)) not in fresh] + rows
    RESULTS.write_text(json.dumps({"runs": runs, "medians": medians(runs)}, indent=2))


if __name__ == "__main__":
    main()
