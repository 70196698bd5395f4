"""Data-quality checks behind `lathe check`: problems worth knowing before training.

Each check is a small pure function `TableFacts -> list[Finding]`, registered by name in
`CHECKS`; `check_table` runs them all (or the ones named) and gathers a `QualityReport`.
A finding's `code` is the name of the check that raised it. Severity `error` blocks training
(`report.blocking`), `warning` deserves a look, `info` is for the record.

>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [1, 2, 3, 4] * 10, "noise": [0.5, 1.5, 2.5, 3.5, 4.5] * 8,
...                       "y": ["a", "b"] * 20})
>>> report = check_table(frame, "y")
>>> [(f.code, f.severity, f.column) for f in report.findings]
[('leakage', 'error', 'x'), ('duplicate_rows', 'warning', None)]
>>> report.blocking, report.to_dict()["summary"]
(True, {'error': 1, 'warning': 1, 'info': 0})

A new check plugs in with `@CHECKS.register("name")` and is run by every `check_table` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from lathe.data.infer import infer_schema, infer_task, task_note
from lathe.data.leak_scores import LEAK_MIN_ROWS, leak_score
from lathe.data.schema import Schema, Task
from lathe.data.split import row_keys
from lathe.errors import DataError, DataQualityError, UsageError, did_you_mean
from lathe.plugins import Registry

__all__ = ["check_table", "QualityReport", "Finding", "TableFacts", "CHECKS", "Severity"]

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

MOSTLY_MISSING = 0.5          # missing share above which a column earns a warning
CONFLICT_ERROR_SHARE = 0.10   # conflicting-label rows above this share of rows block training
MAX_CATEGORIES = 1000
MAX_DISTINCT_SHARE = 0.5      # categorical distinct values per row above this is "id-like"
MIN_ROWS_FOR_SHARES = 20      # below this, shares of rows are too noisy to judge
MINORITY_SHARE = 0.05
EXAMPLES_SHOWN = 3


@dataclass
class Finding:
    code: str
    severity: Severity
    message: str
    column: str | None = None
    count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "column": self.column, "count": self.count, "details": _plain(self.details)}


@dataclass
class QualityReport:
    source: str
    n_rows: int
    n_columns: int
    target: str | None
    task: Task | None
    columns: list[dict[str, Any]]
    findings: list[Finding]
    test_source: str | None = None
    task_note: str | None = None  # why this task was inferred, and how to choose another

    @property
    def blocking(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def raise_if_blocking(self) -> None:
        """Raise DataQualityError naming every blocking finding (for `train` to call)."""
        errors = [f for f in self.findings if f.severity == "error"]
        if errors:
            raise DataQualityError(
                f"{self.source}: " + "; ".join(f.message for f in errors),
                hint="fix the data (run `lathe check` for the full report)",
                codes=[f.code for f in errors],
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "test_source": self.test_source,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "target": self.target,
            "task": self.task,
            "columns": _plain(self.columns),
            "findings": [f.to_dict() for f in self.findings],
            "blocking": self.blocking,
            "summary": self.summary,
            "task_note": self.task_note,
        }


class TableFacts:
    """What every check may read; expensive facts are computed once, on first use."""

    def __init__(self, frame: pd.DataFrame, target: str | None, *, source: str,
                 test_frame: pd.DataFrame | None, test_source: str | None) -> None:
        self.frame = frame
        self.target = target
        self.source = source
        self.test_frame = test_frame
        self.test_source = test_source or "test data"
        self.n_rows = len(frame)
        self.feature_names = [c for c in frame.columns if c != target]
        self.kinds, self.dropped, self.usable = _infer_kinds(frame, target, source)
        self.task: Task | None = None
        if target is not None:
            try:
                self.task = infer_task(frame[target], source=source)
            except DataError:  # empty or one-class label: reported by the checks, not raised
                self.task = None

    @property
    def label(self) -> pd.Series | None:
        return self.frame[self.target] if self.target is not None else None

    @cached_property
    def missing(self) -> pd.Series:
        return self.frame.isna().sum()

    @cached_property
    def n_unique(self) -> pd.Series:
        return self.frame.nunique(dropna=True)

    @cached_property
    def row_keys(self) -> np.ndarray:
        return row_keys(self.frame)

    @cached_property
    def feature_keys(self) -> np.ndarray:
        return row_keys(self.frame[self.feature_names])

    def column_summaries(self) -> list[dict[str, Any]]:
        out = []
        for name in self.frame.columns:
            values = self.frame[name]
            missing = int(self.missing[name])
            out.append({
                "name": name,
                "kind": self.kinds[name],
                "dtype": str(values.dtype),
                "missing": missing,
                "missing_fraction": missing / self.n_rows if self.n_rows else 0.0,
                "n_unique": int(self.n_unique[name]),
                "examples": [_short(v) for v in values.dropna().unique()[:EXAMPLES_SHOWN]],
                "note": self.dropped.get(name),
            })
        return out


Check = Callable[[TableFacts], list[Finding]]
CHECKS: Registry[Check] = Registry("data check")


def check_table(
    frame: pd.DataFrame,
    target: str | None,
    *,
    test_frame: pd.DataFrame | None = None,
    source: str = "data",
    test_source: str | None = None,
    checks: Sequence[str] | None = None,
) -> QualityReport:
    """Run the registered checks (all, or those named in `checks`) over a table."""
    frame = _named_columns(frame, source)
    if test_frame is not None:
        test_frame = _named_columns(test_frame, test_source or "test data")
    if target is not None and target not in frame.columns:
        raise UsageError(
            f"{source} has no column {target!r}; {did_you_mean(target, list(frame.columns))}",
            hint="pass --target with one of the file's columns",
            column=target,
        )
    facts = TableFacts(frame, target, source=source, test_frame=test_frame, test_source=test_source)
    if facts.n_rows == 0:
        findings = [Finding("no_rows", "error", f"{source} has a header but no rows")]
    else:
        findings = [f for name in (checks or CHECKS.names()) for f in CHECKS.get(name)(facts)]
    findings.sort(key=lambda f: SEVERITY_ORDER[f.severity])
    return QualityReport(source=source, n_rows=facts.n_rows, n_columns=len(frame.columns),
                         target=target, task=facts.task, columns=facts.column_summaries(),
                         findings=findings, test_source=test_source if test_frame is not None else None,
                         task_note=None if facts.task is None or facts.label is None
                         else task_note(facts.label, facts.task))


# ---- the checks ------------------------------------------------------------------------------

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


# ---- helpers ---------------------------------------------------------------------------------

def _infer_kinds(frame: pd.DataFrame, target: str | None,
                 source: str) -> tuple[dict[str, str], dict[str, str], bool]:
    """Kind per column as `infer_schema` would see it ('label' / 'dropped' for the others),
    the reasons for drops, and whether any feature survives."""
    empty = [c for c in frame.columns if c != target and frame[c].isna().all()]
    drop = empty + ([target] if target is not None else [])
    usable = True
    try:
        schema = infer_schema(frame, None, drop_columns=drop, source=source)
    except DataError:
        # No feature survived; infer again beside a stand-in column so each column still gets
        # its own reason (constant, id, ...) instead of one combined error.
        usable = False
        probe = "\x00lathe_probe"
        stand_in = frame.assign(**{probe: np.resize([0.0, 1.0], len(frame))})
        try:
            schema = infer_schema(stand_in, None, drop_columns=drop, source=source)
        except DataError:  # fewer than two rows: nothing is usable, no reasons to give
            schema = Schema(columns=[])
        schema.columns = [c for c in schema.columns if c.name != probe]
    kinds: dict[str, str] = {c.name: c.kind for c in schema.columns}
    dropped = {name: reason for name, reason in schema.dropped.items() if name != target}
    for name in empty:
        dropped[name] = "empty on every row"
    for name in frame.columns:
        kinds.setdefault(name, "label" if name == target else "dropped")
    return kinds, dropped, usable and bool(schema.columns)


def _named_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{source}: column name(s) {repeated} appear more than once",
                        hint="give every column a distinct name", columns=repeated)
    return frame if names == list(frame.columns) else frame.set_axis(names, axis=1)


def _comparable(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give each shared column one dtype on both sides, so equal values hash equally
    (a test file with a blank may read an int column as float, or numbers as text)."""
    left_out, right_out = {}, {}
    for name in left.columns:
        a, b = left[name], right[name]
        if a.dtype != b.dtype:
            numeric = all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                          for s in (a, b))
            a, b = (a.astype("float64"), b.astype("float64")) if numeric else \
                (a.astype("string"), b.astype("string"))
        left_out[name], right_out[name] = a.reset_index(drop=True), b.reset_index(drop=True)
    return pd.DataFrame(left_out), pd.DataFrame(right_out)


def _row_numbers(mask: np.ndarray, limit: int = 5) -> list[int]:
    """1-based data-row numbers of the first few flagged rows (as error messages count them)."""
    return [int(i) + 1 for i in np.flatnonzero(mask)[:limit]]


def _first_value(values: pd.Series) -> Any:
    present = values.dropna()
    return _short(present.iloc[0]) if not present.empty else None


def _short(value: Any, limit: int = 60) -> Any:
    value = _plain(value)
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
