"""Compare a reference and a current source column by column: which test, its score, its
threshold, whether the column drifted; missing-value shares and new categories; the
dataset verdict (share of drifted columns >= `drift_share`, default 0.5, as Evidently).

Columns are read and tested one at a time on two threads (NumPy's sorts and pyarrow's
reads release the GIL), so a 1M-row file is never held as a frame.

>>> import numpy as np, pandas as pd
>>> from lathe.monitoring.sources import FrameSource
>>> rng = np.random.default_rng(0)
>>> ref = FrameSource(pd.DataFrame({"x": rng.normal(size=400)}), "ref")
>>> cur = FrameSource(pd.DataFrame({"x": rng.normal(2, size=400)}), "cur")
>>> out = detect_drift(ref, cur)
>>> out["dataset_drift"], out["columns"]["x"]["test"], out["columns"]["x"]["drifted"]
(True, 'ks', True)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lathe.errors import ConfigError, DataError
from lathe.monitoring.drift import STATTESTS, Sample, aligned_counts, default_stattest
from lathe.monitoring.sources import Source

__all__ = ["DriftOptions", "ColumnRule", "detect_drift", "column_drift", "parse_drift_options"]

TESTED_KINDS = ("numeric", "categorical", "text")


@dataclass(frozen=True)
class ColumnRule:
    test: str | None = None
    threshold: float | None = None
    skip: bool = False


@dataclass(frozen=True)
class DriftOptions:
    """What to test and how: per-column rules win over per-kind ones, which win over
    Evidently's defaults."""

    drift_share: float = 0.5
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    kinds: dict[str, ColumnRule] = field(default_factory=dict)
    threads: int = 2


def _rule(raw: Any, where: str) -> ColumnRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping like {{test: psi, threshold: 0.2}}",
                          field=where)
    unknown = set(raw) - {"test", "threshold", "skip"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}",
                          hint="use test, threshold or skip", field=where)
    test = raw.get("test")
    if test is not None:
        STATTESTS.get(str(test))  # unknown names list the valid ones
    threshold = raw.get("threshold")
    if threshold is not None and not isinstance(threshold, (int, float)):
        raise ConfigError(f"{where}.threshold must be a number, got {threshold!r}", field=where)
    return ColumnRule(None if test is None else str(test),
                      None if threshold is None else float(threshold), bool(raw.get("skip")))


def parse_drift_options(raw: dict[str, Any] | None, where: str = "drift") -> DriftOptions:
    """DriftOptions from a YAML mapping: `{drift_share: 0.5, columns: {age: {test: psi,
    threshold: 0.2}, id: {skip: true}}, kinds: {numeric: {test: ks}}}`."""
    raw = raw or {}
    unknown = set(raw) - {"drift_share", "columns", "kinds"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}",
                          hint="use drift_share, columns or kinds", field=where)
    share = raw.get("drift_share", 0.5)
    if not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError(f"{where}.drift_share must be in (0, 1], got {share!r}", field=where)
    kinds = {str(k): _rule(v, f"{where}.kinds.{k}") for k, v in (raw.get("kinds") or {}).items()}
    for kind in kinds:
        if kind not in TESTED_KINDS:
            raise ConfigError(f"{where}.kinds: unknown column kind {kind!r}",
                              hint="use " + ", ".join(TESTED_KINDS), field=where)
    columns = {str(k): _rule(v, f"{where}.columns.{k}")
               for k, v in (raw.get("columns") or {}).items()}
    return DriftOptions(float(share), columns, kinds)


def _union_nunique(ref: Sample, cur: Sample) -> int:
    if ref.nunique > 5 or cur.nunique > 5:
        return max(ref.nunique, cur.nunique)
    return len(aligned_counts(ref, cur)[0])


def column_drift(column: str, kind: str, ref: Sample, cur: Sample, rule: ColumnRule,
                 kind_rule: ColumnRule) -> dict[str, Any]:
    """One column's verdict (pure: samples in, a JSON-ready dict out)."""
    if ref.n == 0 or cur.n == 0:
        empty = "reference" if ref.n == 0 else "current"
        return {"drifted": True, "test": "empty", "statistic": 1.0, "threshold": 0.0,
                "kind": kind, "note": f"every value is missing in the {empty} data"}
    name = rule.test or kind_rule.test
    test = STATTESTS.get(name) if name else default_stattest(
        kind, n_reference=ref.n, nunique=_union_nunique(ref, cur))
    if kind not in test.kinds:
        raise ConfigError(f"drift test {test.name!r} does not apply to the {kind} column "
                          f"{column!r}", hint="use one of: " + ", ".join(
                              t for t in STATTESTS.names() if kind in STATTESTS.get(t).kinds),
                          column=column)
    threshold = rule.threshold if rule.threshold is not None else (
        kind_rule.threshold if kind_rule.threshold is not None and rule.test is None
        else test.default_threshold)
    score = test(ref, cur)
    out: dict[str, Any] = {"drifted": test.drifted(score, threshold), "test": test.name,
                           "statistic": score, "threshold": threshold, "score": test.score,
                           "kind": kind}
    if kind == "categorical":
        rk, _ = ref.counts()
        ck, cc = cur.counts()
        seen = set(rk)
        new = [(k, c) for k, c in zip(ck, cc, strict=True) if k not in seen]
        new.sort(key=lambda kc: -kc[1])
        out["new_categories"] = {"count": len(new), "share": sum(c for _, c in new) / cur.n,
                                 "top": [str(k) for k, _ in new[:10]]}
    return out


def detect_drift(reference: Source, current: Source, options: DriftOptions | None = None,
                 *, columns: list[str] | None = None) -> dict[str, Any]:
    """Drift of every shared column (or `columns`), and the dataset verdict."""
    options = options or DriftOptions()
    names = columns if columns is not None else [c for c in current.columns
                                                 if c in set(reference.columns)]
    names = [c for c in names if not options.columns.get(c, ColumnRule()).skip]
    if current.rows == 0 or reference.rows == 0:
        which = current if current.rows == 0 else reference
        raise DataError(f"{which.name} has no rows to compare", hint="pass a non-empty window")

    def one(column: str) -> tuple[str, dict[str, Any]]:
        kind = current.kind(column)
        rows = {"reference": reference.rows, "current": current.rows}
        if kind not in TESTED_KINDS:
            return column, {"drifted": False, "test": "none", "statistic": 0.0,
                            "threshold": 0.0, "kind": kind, "skipped": f"{kind} column"}
        ref, ref_missing = reference.sample(column, kind)
        cur, cur_missing = current.sample(column, kind)
        rule = options.columns.get(column, ColumnRule())
        out = column_drift(column, kind, ref, cur, rule, options.kinds.get(kind, ColumnRule()))
        out["rows"] = rows
        out["missing_share"] = {"reference": ref_missing / max(reference.rows, 1),
                                "current": cur_missing / max(current.rows, 1)}
        return column, out

    if options.threads > 1 and len(names) > 1:
        with ThreadPoolExecutor(options.threads) as pool:
            results = dict(pool.map(one, names))
    else:
        results = dict(map(one, names))
    tested = [r for r in results.values() if "skipped" not in r]
    drifted = sum(r["drifted"] for r in tested)
    share = drifted / len(tested) if tested else 0.0
    return {
        "dataset_drift": bool(tested) and share >= options.drift_share,
        "share_drifted": share,
        "drift_share": options.drift_share,
        "n_columns": len(tested),
        "n_drifted": int(drifted),
        "reference": {"source": reference.name, "rows": reference.rows},
        "current": {"source": current.name, "rows": current.rows},
        "columns": results,
    }
