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
The checks live in lathe.data.checks, what they read and return in lathe.data.facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

import lathe.data.checks  # noqa: F401  (registers the checks in CHECKS)
from lathe.data.facts import (
    CHECKS,
    SEVERITY_ORDER,
    Finding,
    Severity,
    TableFacts,
    _named_columns,
    _plain,
)
from lathe.data.infer import task_note
from lathe.data.schema import Task
from lathe.errors import DataQualityError, UsageError, did_you_mean

__all__ = ["check_table", "QualityReport", "Finding", "TableFacts", "CHECKS", "Severity"]


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
