"""Behaviour tests in YAML, in CheckList's three kinds, written once and run in CI.

```yaml
thresholds: {demographic_parity_difference: 0.15, typos: 0.1}   # optional overrides
tests:
  - name: plain praise is positive
    kind: minimum_functionality        # each row must get `expect`
    template: "The {thing} was {adj}."  # or rows: [{text: ...}, ...]
    fill: {thing: [room, staff], adj: [great, lovely]}
    expect: "1"
  - name: a name changes nothing
    kind: invariance                    # the prediction must not change
    perturb: {replace: {column: text, words: {John: Mary}}}
  - name: more schooling, not less income
    kind: directional                   # P(class) must not move the wrong way
    perturb: {add: {column: education_num, value: 2}}
    expect: {class: ">50K", direction: up}
```

Rows come from `rows:` (a list of column -> value), from `template:` with `fill:` (every
combination; `column:` names the column it fills, by default the model's only text column),
or else from up to `n:` (default 500) labelled rows of DATA. Columns a row does not give are
empty. Perturbations: `replace` (words or substrings in a column), `set` (a value), `add`
(a number), `append`/`prepend` (text), or any robustness perturbation by name (`typos`,
`case`, `missing_values`, ...). Invariance and directional tests count only the rows the
perturbation changed. A test fails when its failure rate passes `max_failure_rate`
(default 0). Misspelt kinds or operations are one clear line naming the file and test.

>>> check_kind("invariant", "tests.yaml", 1)
Traceback (most recent call last):
...
lathe.errors.ConfigError: tests.yaml: test 1: unknown kind 'invariant' (the kinds are minimum_functionality, invariance, directional). Fix: did you mean 'invariance'?
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lathe.errors import ConfigError, NotFound, did_you_mean
from lathe.validation._scored import Scored

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["load_tests", "run_behaviour", "check_kind", "KINDS"]

KINDS = {"minimum_functionality": "minimum_functionality", "mft": "minimum_functionality",
         "invariance": "invariance", "inv": "invariance",
         "directional": "directional", "dir": "directional"}
OPERATIONS = ("replace", "set", "add", "append", "prepend")


def check_kind(kind: Any, source: str, index: int) -> str:
    if kind in KINDS:
        return KINDS[kind]
    main = ["minimum_functionality", "invariance", "directional"]
    raise ConfigError(f"{source}: test {index}: unknown kind {kind!r} (the kinds are "
                      f"{', '.join(main)})", hint=did_you_mean(str(kind), main) or
                      "use minimum_functionality, invariance or directional", field="kind")


def load_tests(path: str | Path) -> dict[str, Any]:
    """Read and check a tests.yaml: `{"thresholds": {...}, "tests": [...]}`."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise NotFound(f"tests file {file} does not exist", hint="check the --tests path")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{file}: not valid YAML: {err}", hint="fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping with `tests:` and/or `thresholds:`",
                          hint="see `lathe validate --help`")
    unknown = set(data) - {"tests", "thresholds"}
    if unknown:
        raise ConfigError(f"{file}: unknown key(s) {sorted(unknown)}",
                          hint="the keys are tests and thresholds")
    tests = data.get("tests") or []
    if not isinstance(tests, list):
        raise ConfigError(f"{file}: `tests` must be a list", field="tests")
    for i, test in enumerate(tests, 1):
        if not isinstance(test, dict):
            raise ConfigError(f"{file}: test {i} must be a mapping", field=f"tests[{i}]")
        test["kind"] = check_kind(test.get("kind"), str(file), i)
        test.setdefault("name", f"test {i}")
        if test["kind"] != "minimum_functionality" and not test.get("perturb"):
            raise ConfigError(f"{file}: test {i} ({test['name']}): a {test['kind']} test "
                              "needs `perturb:`", hint="e.g. perturb: {typos: {}}")
        if test["kind"] != "invariance" and "expect" not in test:
            raise ConfigError(f"{file}: test {i} ({test['name']}): needs `expect:`",
                              hint="a label, or {class: C, direction: up|down}")
    return {"thresholds": data.get("thresholds") or {}, "tests": tests, "source": str(file)}


def _rows(test: dict[str, Any], model: Model, scored: Scored, rng: np.random.Generator
          ) -> pd.DataFrame:
    if "rows" in test:
        frame = pd.DataFrame(test["rows"])
    elif "template" in test:
        fill = test.get("fill") or {}
        keys = list(fill)
        texts = [test["template"].format(**dict(zip(keys, combo, strict=True)))
                 for combo in itertools.product(*(fill[k] for k in keys))]
        text_cols = model.schema.names_of("text")
        column = test.get("column") or (text_cols[0] if len(text_cols) == 1 else None)
        if column is None:
            raise ConfigError(f"test {test['name']!r}: `template` needs `column:` (the model "
                              f"has text columns {text_cols})", field="column")
        frame = pd.DataFrame({column: texts})
    else:
        n = min(int(test.get("n", 500)), len(scored.frame))
        frame = scored.frame.iloc[np.sort(rng.choice(len(scored.frame), n, replace=False))]
    frame = frame.reset_index(drop=True)
    for col in model.schema.feature_names:
        if col not in frame.columns:
            frame[col] = None
    return frame


def _perturb(frame: pd.DataFrame, spec: dict[str, Any], model: Model, name: str,
             rng: np.random.Generator) -> pd.DataFrame:
    from lathe.validation.robustness import feature_columns
    from lathe.validation.robustness._perturb import TABULAR, TEXT

    out = frame.copy()
    for op, arg in spec.items():
        if op in TABULAR or op in TEXT:
            need, fn = (TABULAR | TEXT)[op]
            out = fn(out, (arg or {}).get("columns") or feature_columns(model, need), rng)
            continue
        if op not in OPERATIONS or not isinstance(arg, dict) or "column" not in arg:
            raise ConfigError(f"test {name!r}: unknown perturbation {op!r} or no `column:`",
                              hint=did_you_mean(op, [*OPERATIONS, *TABULAR, *TEXT]) or
                              "one of " + ", ".join([*OPERATIONS, *TABULAR, *TEXT]))
        col = arg["column"]
        if col not in out.columns:
            raise ConfigError(f"test {name!r}: no column {col!r}", field="column",
                              hint=did_you_mean(col, list(out.columns)) or "name a model column")
        if op == "replace":
            words = arg.get("words") or {}
            for old, new in words.items():
                out[col] = out[col].astype(str).str.replace(
                    rf"\b{re.escape(str(old))}\b", str(new), regex=True)
            for old, new in (arg.get("text") or {}).items():
                out[col] = out[col].astype(str).str.replace(str(old), str(new), regex=False)
        elif op == "set":
            out[col] = arg.get("value")
        elif op == "add":
            out[col] = pd.to_numeric(out[col], errors="coerce") + float(arg.get("value", 0))
        else:
            text = out[col].fillna("").astype(str)
            out[col] = text + str(arg.get("text", "")) if op == "append" else \
                str(arg.get("text", "")) + text
    return out


def _run_one(test: dict[str, Any], model: Model, scored: Scored, seed: int) -> dict[str, Any]:
    from lathe.validation.robustness import perturb_and_score

    rng = np.random.default_rng(seed)
    rows = _rows(test, model, scored, rng)
    raw, pred = perturb_and_score(model, rows)
    classes = [str(c) for c in model.classes or []]
    kind = test["kind"]
    if kind == "minimum_functionality":
        expect = str(test["expect"])
        if classes and expect not in classes:
            raise ConfigError(f"test {test['name']!r}: expect {expect!r} is not a class",
                              hint=f"the classes are {classes}", field="expect")
        failed = np.array([classes[p] != expect for p in pred]) if classes else \
            np.abs(pred - float(expect)) > float(test.get("tolerance", 0.0))
        counted = len(rows)
    else:
        changed_rows = _perturb(rows, test["perturb"], model, test["name"], rng)
        raw2, pred2 = perturb_and_score(model, changed_rows)
        feats = model.schema.feature_names
        after = changed_rows[feats].astype(object).to_numpy()
        before = rows[feats].astype(object).to_numpy()
        same = (after == before) | (pd.isna(after) & pd.isna(before))
        touched = ~same.all(axis=1)
        if kind == "invariance":
            failed = (pred2 != pred) & touched
        else:
            failed = _directional(test, raw, raw2, pred2, classes) & touched
        counted = int(touched.sum())
    n_failed = int(np.sum(failed))
    rate = n_failed / counted if counted else 0.0
    limit = float(test.get("max_failure_rate", 0.0))
    return {"name": test["name"], "kind": kind, "n": counted, "failed": n_failed,
            "failure_rate": rate, "max_failure_rate": limit, "passed": rate <= limit}


def _directional(test: dict[str, Any], raw: np.ndarray, raw2: np.ndarray, pred2: np.ndarray,
                 classes: list[str]) -> np.ndarray:
    expect = test["expect"]
    if not isinstance(expect, dict):  # the perturbation must turn the prediction into `expect`
        return np.array([classes[p] != str(expect) for p in pred2])
    direction = expect.get("direction", "up")
    if direction not in ("up", "down"):
        raise ConfigError(f"test {test['name']!r}: direction {direction!r}", field="direction",
                          hint="up or down")
    if classes:
        cls = str(expect.get("class", classes[-1]))
        if cls not in classes:
            raise ConfigError(f"test {test['name']!r}: class {cls!r} is not a class",
                              hint=f"the classes are {classes}", field="class")
        before, after = raw[:, classes.index(cls)], raw2[:, classes.index(cls)]
    else:
        before, after = np.ravel(raw), np.ravel(raw2)
    moved = after - before
    tolerance = float(test.get("tolerance", 0.0))
    return moved < -tolerance if direction == "up" else moved > tolerance


def run_behaviour(model: Model, scored: Scored, spec: dict[str, Any], seed: int = 0
                  ) -> dict[str, Any]:
    """Run every test of a loaded tests.yaml; `{"behaviour": [...], "checks": [...]}`."""
    results = [_run_one(t, model, scored, seed) for t in spec["tests"]]
    checks = [{"name": f"behaviour.{r['name']}", "passed": r["passed"],
               "value": r["failure_rate"], "threshold": r["max_failure_rate"],
               "message": f"{r['kind']} test {r['name']!r}: {r['failed']} of {r['n']} rows "
                          f"failed ({r['failure_rate']:.1%})"} for r in results]
    return {"behaviour": results, "checks": checks}
