"""`validate`: a validation suite as a gate (re-exported by `lathe.api`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lathe.model import DataLike, Model


def validate(
    model: str | os.PathLike[str] | Model,
    data: DataLike,
    *,
    suite: str = "default",
    sensitive: str | list[str] | None = None,
    tests: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    train: DataLike | None = None,
    encoding: str | None = None,
    mitigate: bool = False,
    learning_curve: bool = False,
) -> dict[str, Any]:
    """Run a validation suite on labelled DATA: `passed`, `failed`, `checks` and a section per
    part (see `lathe.validation.suite`); `report` also writes an HTML page with plots. For a
    registry reference (NAME:VERSION, NAME@alias) the result is also audited, for
    `registry promote --require-validation`."""
    from lathe.api._verbs import load
    from lathe.model import Model, source_name
    from lathe.validation import run_suite, split_columns

    loaded = model if isinstance(model, Model) else load(model)
    result = run_suite(loaded, data, suite=suite, sensitive=split_columns(sensitive),
                       tests=tests, train=train, encoding=encoding, mitigate=mitigate,
                       curve=learning_curve)
    result = {"model": str(model) if not isinstance(model, Model) else repr(model),
              "data": source_name(data)} | result
    if not isinstance(model, Model):
        _record(model, result)
    if report is not None:
        from lathe.validation.report import write_validation_report

        write_validation_report(Path(report), result)
        result["report"] = str(report)
    return result


def _record(model: str | os.PathLike[str], result: dict[str, Any]) -> None:
    """A registry reference's result goes into its audit, where `registry promote
    --require-validation` finds it; an artifact directory keeps nothing."""
    from lathe.registry.refs import looks_like_path

    ref = os.fspath(model)
    if Path(ref).exists() or looks_like_path(ref):
        return
    from lathe.registry.registry import open_registry

    with open_registry(None) as registry:
        registry.record_validation(registry.resolve(ref), result)
