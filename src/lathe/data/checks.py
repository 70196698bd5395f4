"""The data-quality checks `lathe check` runs: each a small pure function
`TableFacts -> list[Finding]`, registered by name in `CHECKS` (a finding's `code` is the
name of its check). `lathe.data.quality.check_table` runs them.

>>> sorted(CHECKS.names())[:3]
['conflicting_labels', 'constant_columns', 'duplicate_rows']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lathe.data.facts import (
    CHECKS,
    Finding,
    Severity,
    TableFacts,
    _comparable,
    _first_value,
    _row_numbers,
    _short,
)
from lathe.data.leak_scores import LEAK_MIN_ROWS, leak_score
from lathe.data.split import row_keys

__all__ = ["CHECKS"]

MOSTLY_MISSING = 0.5          # missing share above which a column earns a warning
CONFLICT_ERROR_SHARE = 0.10   # conflicting-label rows above this share of rows block training
MAX_CATEGORIES = 1000
MAX_DISTINCT_SHARE = 0.5      # categorical distinct values per row above this is "id-like"
MIN_ROWS_FOR_SHARES = 20      # below this, shares of rows are too noisy to judge
MINORITY_SHARE = 0.05


@CHECKS.register("missing_values")
def missing_values(facts: TableFacts) -> list[Finding]:
    out = []
    for name, n in facts.missing.items():
        n = int(n)
        if not n:
            continue
        share = n / facts.n_rows
        where = f"{n:,} of {facts.n_rows:,} rows ({share:.1%})"
        if name == facts.target:
            if n == facts.n_rows:
                out.append(Finding("missing_values", "error", f"the label column {name!r} is empty "
                                   "on every row; there is nothing to learn from", name, n))
            else:
                out.append(Finding("missing_values", "warning", f"{where} have no label in "
                                   f"{name!r}; training ignores them", name, n, {"fraction": share}))
        elif n == facts.n_rows:
            out.append(Finding("missing_values", "error", f"column {name!r} is all empty; drop it "
                               f"(--drop {name}) or fill it", name, n, {"fraction": 1.0}))
        elif share > MOSTLY_MISSING:
            out.append(Finding("missing_values", "warning", f"column {name!r} is missing in {where}; "
                               "check the export, or drop it if it is rarely recorded",
                               name, n, {"fraction": share}))
        else:
            out.append(Finding("missing_values", "info", f"column {name!r} is missing in {where}",
                               name, n, {"fraction": share}))
    return out


@CHECKS.register("duplicate_rows")
def duplicate_rows(facts: TableFacts) -> list[Finding]:
    repeats = pd.Series(facts.row_keys).duplicated().to_numpy()
    n = int(repeats.sum())
    if not n:
        return []
    share = n / facts.n_rows
    return [Finding(
        "duplicate_rows", "warning",
        f"{n:,} row(s) ({share:.1%}) exactly repeat an earlier row; they weigh those examples "
        "more (lathe keeps copies on one side of each split). Remove them unless repeats are real",
        None, n, {"fraction": share, "example_rows": _row_numbers(repeats)},
    )]


@CHECKS.register("conflicting_labels")
def conflicting_labels(facts: TableFacts) -> list[Finding]:
    # Regression labels legitimately vary for equal inputs (noise), so only classes conflict.
    if facts.label is None or facts.task not in ("binary", "multiclass") or not facts.feature_names:
        return []
    labelled = facts.label.notna().to_numpy()
    pairs = pd.DataFrame({"key": facts.feature_keys[labelled],
                          "label": pd.factorize(facts.label[labelled])[0]})
    n_labels = pairs.groupby("key", sort=False)["label"].nunique()
    conflicted = n_labels.index[n_labels.to_numpy() > 1]
    if conflicted.empty:
        return []
    in_conflict = np.zeros(facts.n_rows, dtype=bool)
    in_conflict[labelled] = pairs["key"].isin(conflicted).to_numpy()
    n = int(in_conflict.sum())
    share = n / facts.n_rows
    # Rows outside their group's majority label are wrong for every model. Severity follows
    # them, not all rows in conflict: coarse inputs (a few categorical columns) put most rows
    # in some conflicting group without making the data unusable.
    sizes = pairs.groupby(["key", "label"], sort=False).size()
    unavoidable = int(len(pairs) - sizes.groupby(level="key", sort=False).max().sum())
    unavoidable_share = unavoidable / facts.n_rows
    severity: Severity = "error" if unavoidable_share > CONFLICT_ERROR_SHARE else "warning"
    return [Finding(
        "conflicting_labels", severity,
        f"{n:,} row(s) ({share:.1%}) in {len(conflicted):,} group(s) have identical inputs but "
        f"different labels in {facts.target!r}, so any model gets at least {unavoidable:,} "
        f"({unavoidable_share:.1%}) wrong. Check the labels, or add the column that tells them apart",
        facts.target, n,
        {"groups": len(conflicted), "fraction": share, "unavoidable_errors": unavoidable,
         "unavoidable_fraction": unavoidable_share, "example_rows": _row_numbers(in_conflict)},
    )]


@CHECKS.register("constant_columns")
def constant_columns(facts: TableFacts) -> list[Finding]:
    return [
        Finding("constant_columns", "warning", f"column {name!r} holds a single value "
                f"({_first_value(facts.frame[name])!r}); it will be dropped", name, None)
        for name, reason in facts.dropped.items() if reason.startswith("constant")
    ]


@CHECKS.register("high_cardinality")
def high_cardinality(facts: TableFacts) -> list[Finding]:
    out = []
    for name in facts.feature_names:
        kind = facts.kinds[name]
        if kind == "dropped" and " id" in facts.dropped.get(name, ""):
            out.append(Finding("high_cardinality", "info", f"column {name!r} "
                               f"{facts.dropped[name]}; it will be dropped", name,
                               int(facts.n_unique[name]), {"reason": facts.dropped[name]}))
            continue
        if kind != "categorical":
            continue
        n_unique = int(facts.n_unique[name])
        present = facts.n_rows - int(facts.missing[name])
        share = n_unique / present
        if n_unique > MAX_CATEGORIES or (present >= MIN_ROWS_FOR_SHARES and share > MAX_DISTINCT_SHARE):
            out.append(Finding(
                "high_cardinality", "warning",
                f"column {name!r} has {n_unique:,} categories in {present:,} rows ({share:.0%} "
                "distinct); most appear too rarely to learn from. Group rare values or drop it "
                f"(--drop {name})", name, n_unique, {"distinct_fraction": share},
            ))
    return out


@CHECKS.register("label_imbalance")
def label_imbalance(facts: TableFacts) -> list[Finding]:
    if facts.label is None:
        return []
    counts = facts.label.dropna().value_counts()
    if counts.empty:  # missing_values reports an empty label
        return []
    if len(counts) == 1:
        only = counts.index[0]
        return [Finding("label_imbalance", "error", f"the label {facts.target!r} has only one class "
                        f"({_short(only)!r}); there is nothing to learn. Check the file holds "
                        "examples of every outcome", facts.target, int(counts.iloc[0]),
                        {"classes": {str(only): int(counts.iloc[0])}})]
    if facts.task not in ("binary", "multiclass"):
        return []
    # With many classes every class is a small share, so the bar is also a quarter of the
    # balanced share 1/k: 77 balanced classes (1.3% each) are not "imbalanced".
    threshold = min(MINORITY_SHARE, 0.25 / len(counts))
    total = int(counts.sum())
    rare = counts[counts / total < threshold]
    if rare.empty:
        return []
    smallest, n = rare.index[-1], int(rare.iloc[-1])
    more = f" (and {len(rare) - 1} more class(es) under {threshold:.1%})" if len(rare) > 1 else ""
    return [Finding(
        "label_imbalance", "warning",
        f"label {facts.target!r} is imbalanced: class {_short(smallest)!r} has {n:,} of {total:,} "
        f"rows ({n / total:.2%}){more}. Accuracy will hide mistakes on rare classes; look at "
        "per-class recall, and add examples or use class weights",
        facts.target, n,
        {"threshold": threshold, "rare_classes": {str(k): int(v) for k, v in rare.items()}},
    )]


@CHECKS.register("leakage")
def leakage(facts: TableFacts) -> list[Finding]:
    if facts.label is None or facts.task is None:
        return []
    labelled = facts.label.notna().to_numpy()
    if labelled.sum() < LEAK_MIN_ROWS:
        return []
    out = []
    for name in facts.feature_names:
        kind = facts.kinds[name]
        if kind not in ("numeric", "categorical", "boolean"):
            continue  # text is meant to predict; dropped columns never reach the model
        values = facts.frame[name][labelled]
        scored = leak_score(values, facts.label[labelled], kind, facts.task,
                             int(facts.n_unique[name]))
        if scored is None:
            continue
        metric, score = scored
        out.append(Finding(
            "leakage", "error",
            f"column {name!r} predicts the label {facts.target!r} almost perfectly on its own "
            f"({metric} {score:.3f}); it probably leaks the answer (recorded after the outcome, "
            f"or derived from it). Drop it (--drop {name}) unless it is truly known when predicting",
            name, None, {"metric": metric, "score": score},
        ))
    return out


@CHECKS.register("train_test_overlap")
def train_test_overlap(facts: TableFacts) -> list[Finding]:
    test = facts.test_frame
    if test is None:
        return []
    out = []
    train_cols = facts.feature_names
    test_cols = [c for c in test.columns if c != facts.target]
    only_train = [c for c in train_cols if c not in set(test_cols)]
    only_test = [c for c in test_cols if c not in set(train_cols)]
    if only_train or only_test:
        out.append(Finding(
            "train_test_overlap", "error",
            f"{facts.test_source} and {facts.source} have different input columns: only in "
            f"training {only_train}, only in test {only_test}. Export both with the same columns",
            None, len(only_train) + len(only_test), {"only_in_train": only_train,
                                                     "only_in_test": only_test},
        ))
    shared = [c for c in train_cols if c in set(test_cols)]
    if not shared or test.empty:
        return out
    train_part, test_part = _comparable(facts.frame[shared], test[shared])
    seen = np.isin(row_keys(test_part), row_keys(train_part))
    n = int(seen.sum())
    if not n:
        return out
    share = n / len(test)
    everything = n == len(test)
    what = ("every test row also appears in training; the test file is (a copy of) the "
            "training data" if everything else
            f"{n:,} of {len(test):,} test rows ({share:.1%}) also appear in training")
    out.append(Finding(
        "train_test_overlap", "error" if everything else "warning",
        f"{what} (same values in the {len(shared)} shared input columns); scores on them overstate "
        "how well the model generalises. Remove them from the test file",
        None, n, {"fraction": share, "example_rows": _row_numbers(seen)},
    ))
    return out


@CHECKS.register("usable_features")
def usable_features(facts: TableFacts) -> list[Finding]:
    if facts.usable:
        return []
    if not facts.feature_names:
        message = f"{facts.source} has no input columns besides the label {facts.target!r}"
    else:
        message = (f"{facts.source} has no usable input columns: every column is dropped "
                   f"({', '.join(f'{k}: {v}' for k, v in facts.dropped.items() if k != facts.target)})")
    return [Finding("usable_features", "error", message, None, len(facts.feature_names))]
