"""Suites: which checks `lathe validate` runs, and the one result a CI job reads.

| suite        | runs                                                                     |
|--------------|--------------------------------------------------------------------------|
| `default`    | metrics, slices with the worst found, over-fitting and duplicates,       |
|              | light robustness, fairness when `sensitive` is given                     |
| `fairness`   | metrics, fairness per sensitive column (needs `sensitive`)               |
| `robustness` | metrics, every tabular and text perturbation that applies                |
| `text`       | metrics, per-language slices, every text perturbation                    |

With `curve`, the model's recipe is refitted on 10/25/50/100 % of its training rows
(`learning_curve`: train and held-out primary metric per share). With `mitigate`, each
sensitive column also gets Fairlearn's ThresholdOptimizer, cross-fitted
on two halves of DATA (`mitigation`: before, after, accuracy cost).
Behaviour tests (`tests=tests.yaml`, `behaviour.py`) run with any suite, and its
`thresholds:` override the defaults. The result is a dict: `passed`, `failed` (names of the
failed checks), `checks` (every check with its value and threshold), and one section per
part (`metrics`, `slices`, `worst_slices`, `fairness`, `robustness`, `overfitting`,
`behaviour`, `by_language`). Worst slices are findings, not failures.

>>> sorted(SUITES)
['default', 'fairness', 'robustness', 'text']
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lathe.errors import UsageError, did_you_mean
from lathe.validation._scored import Scored, score_rows

if TYPE_CHECKING:
    import pandas as pd

    from lathe.model import DataLike, Model

__all__ = ["SUITES", "run_suite", "slice_section", "language_section"]

SUITES = ("default", "fairness", "robustness", "text")
MAX_CROSSED_COLUMNS = 6


def _summary(model: Model, scored: Scored) -> dict[str, Any]:
    from lathe.evaluation.metrics import compute_metrics

    full = compute_metrics(model.task, scored.y, scored.raw, model.classes, None,
                           model.schema.positive_index)
    return {k: v for k, v in full.items() if isinstance(v, (int, float, str)) or v is None}


def language_section(model: Model, scored: Scored) -> dict[str, Any] | None:
    """Metrics per detected language of the text columns, when more than one is present."""
    from lathe.validation.slices import LANGUAGE

    text = model.schema.names_of("text")
    if not text or LANGUAGE in scored.frame.columns:
        return None
    keys = _languages(scored, text)
    present = [v for v in keys.unique() if v != "und"]
    if len(present) < 2:
        return None
    return _per_value(model, scored, keys)


def _languages(scored: Scored, text: list[str]) -> pd.Series:
    import pandas as pd

    from lathe.validation.language import detect_languages, text_of_rows

    return pd.Series(detect_languages(text_of_rows(scored.frame, text)),
                     index=scored.frame.index, dtype=object)


def _per_value(model: Model, scored: Scored, keys: pd.Series, full: bool = True
               ) -> dict[str, Any]:
    """Metrics per slice value with support and interval; `full` adds every metric of the
    task (scikit-learn's, ~60 ms a slice: for `evaluate --by`, not a suite's every column)."""
    from lathe.evaluation.metrics import compute_metrics
    from lathe.validation.slices import slice_metrics

    basic = slice_metrics(scored, keys)
    if not full:
        return basic
    out = {}
    for value, stats in basic.items():
        mask = (keys == value).to_numpy()
        every = compute_metrics(model.task, scored.y[mask], scored.raw[mask], model.classes,
                                None, model.schema.positive_index)
        out[value] = {k: v for k, v in every.items()
                      if isinstance(v, (int, float, str)) or v is None} | stats
    return out


def slice_section(model: Model, scored: Scored, by: list[str], *, alpha: float = 0.05,
                  min_support: int = 30, full: bool = True,
                  skip_single: bool = False) -> dict[str, Any]:
    """`{"slices": {column: {value: metrics}}, "worst_slices": {...}}` for columns `by`;
    a column with one value is an error, or left out with `skip_single` (a suite's own
    choice of columns, such as `language` for English-only text)."""
    from lathe.errors import DataError
    from lathe.validation.slices import slice_keys, worst_slices

    text = model.schema.names_of("text")
    keyed = {}
    for col in by:
        try:
            keyed[col] = slice_keys(scored, col, text)
        except DataError:
            if not skip_single or col not in scored.frame.columns and col != "language":
                raise
    if not keyed:
        return {}
    slices = {col: _per_value(model, scored, keys, full) for col, keys in keyed.items()}
    worst = worst_slices(scored, keyed, alpha=alpha, min_support=min_support,
                         crossed=len(keyed) <= MAX_CROSSED_COLUMNS)
    return {"slices": slices, "worst_slices": worst}


def _default_slices(model: Model, scored: Scored) -> list[str]:
    from lathe.validation.slices import LANGUAGE, bin_column

    schema = model.schema
    columns = [c.name for c in schema.columns
               if c.kind in ("categorical", "boolean", "numeric")
               and c.name in scored.frame.columns
               and bin_column(scored.frame[c.name]).nunique() >= 2]
    if schema.names_of("text"):
        columns.append(LANGUAGE)
    return columns


def run_suite(model: Model, data: DataLike, *, suite: str = "default",
              sensitive: list[str] | None = None, tests: Any = None,
              train: DataLike | None = None, encoding: str | None = None,
              mitigate: bool = False, curve: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run a suite on labelled DATA; the result dict described in the module docstring."""
    from lathe.validation.behaviour import load_tests, run_behaviour

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r} (the suites are {', '.join(SUITES)})",
                         hint=did_you_mean(suite, SUITES) or "use --suite default")
    spec = load_tests(tests) if tests is not None else None
    limits = dict(spec["thresholds"]) if spec else {}
    started = time.perf_counter()
    scored = score_rows(model, data, encoding)
    sensitive = list(sensitive or [])
    if suite == "fairness" and not sensitive:
        raise UsageError("--suite fairness needs --sensitive COLUMNS",
                         hint="e.g. --sensitive sex,race")
    text_columns = model.schema.names_of("text")
    if suite == "text" and not text_columns:
        raise UsageError("--suite text needs a model with a text column; this one has none",
                         hint="use --suite default or robustness")
    result: dict[str, Any] = {"suite": suite, "task": model.task, "n_rows": len(scored.y),
                              "metrics": _summary(model, scored)}
    checks: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    if sensitive:
        from lathe.validation.fairness import fairness_report, sensitive_groups

        for column in sensitive:  # a missing column fails before any long check runs
            sensitive_groups(scored, column)
        parts.append(fairness_report(scored, sensitive, limits))
        if mitigate:
            from lathe.validation.mitigation import mitigate as post_process

            result["mitigation"] = {c: post_process(scored, c, seed=seed) for c in sensitive}
    elif mitigate:
        raise UsageError("--mitigate needs --sensitive COLUMNS", hint="e.g. --sensitive sex")
    if suite == "default":
        from lathe.validation.overfit import overfitting_report

        columns = _default_slices(model, scored)
        if columns:
            result.update(slice_section(model, scored, columns, full=False, skip_single=True,
                                        alpha=float(limits.get("alpha", 0.05))))
        parts.append(overfitting_report(model, scored, train=train, limits=limits, seed=seed))
    if curve:
        from lathe.validation.curves import learning_curve
        from lathe.validation.overfit import training_frame

        frame, why = training_frame(model, train)
        if frame is None:
            raise UsageError(f"--learning-curve needs the training rows: {why}",
                             hint="pass them with --train DATA")
        result["learning_curve"] = learning_curve(model, scored, frame, seed=seed)
    if suite in ("default", "robustness", "text"):
        from lathe.validation.robustness import TABULAR_CHECKS, TEXT_CHECKS, run_robustness

        light = ("typos", "case", "whitespace") if text_columns else (
            "missing_values", "noise", "column_order")
        names = {"default": light, "robustness": (*TABULAR_CHECKS, *TEXT_CHECKS) if
                 text_columns else TABULAR_CHECKS, "text": TEXT_CHECKS}[suite]
        parts.append(run_robustness(model, scored, list(names), thresholds=limits, seed=seed))
    if suite in ("default", "text") and text_columns:
        by_language = language_section(model, scored)
        if by_language:
            result["by_language"] = by_language
    if spec is not None:
        parts.append(run_behaviour(model, scored, spec, seed=seed))
    for part in parts:
        checks.extend(part.pop("checks"))
        result.update(part)
    failed = [c["name"] for c in checks if not c["passed"]]
    result.update(passed=not failed, failed=failed, checks=checks,
                  seconds=time.perf_counter() - started)
    return result
