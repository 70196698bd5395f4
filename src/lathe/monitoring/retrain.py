"""`lathe retrain NAME --data DATA`: a challenger trained with the champion's resolved config.

DATA is a file or the prediction log:

* a file (recent labelled rows in time order; `--window N` keeps its last N rows): the
  challenger trains on all but the last 20 % of rows (file order); champion and challenger
  are both scored on those held-back rows, which the challenger never saw;
* `log:URL` (with `--window 7d` or `--since/--until`): the rows of NAME (any version) whose
  outcome has arrived, oldest first; the most recent 20 % of them are held back to compare
  on, and the challenger trains on the champion's training data (its lineage names the
  file; it must still be readable, and a changed content hash is reported; `base` names
  another copy, or "none" to train on the log's rows alone) plus the rest.

The challenger is registered with `parent = "NAME:<champion version>"` in its lineage, then
promoted to champion only through the registry's gate (evaluated on the held-back rows), or
`alias` is moved to it without a gate (e.g. `challenger`, for an experiment to take over). A
gate that refuses is an outcome, not an error: the result says `promoted: false` and why.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from lathe.errors import DataError, GateFailed, NotFound, UsageError

__all__ = ["retrain", "HOLDOUT_SHARE", "log_training_rows"]

HOLDOUT_SHARE = 0.2
MIN_FIT_ROWS = 20


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None}


def _shown(data: str) -> str:
    """A log URL without its password (it goes into the lineage and the registry note)."""
    if not data.startswith("log:") or "@" not in data:
        return data
    import sqlalchemy as sa

    url = sa.engine.make_url(data.removeprefix("log:"))
    return "log:" + url.render_as_string(hide_password=True)


def _labels_like(values: Any, like: Any, source: str, target: str) -> Any:
    """Logged outcomes (JSON values) in the dtype of the training data's label column."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(like) and not pd.api.types.is_bool_dtype(like):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"{source}: logged outcome {values.iloc[row]!r} (labelled row "
                            f"{row}) is not a number like the training label {target!r}",
                            hint="send outcomes of the label's type to /v1/feedback",
                            row=row, column=target)
        return numbers.astype(like.dtype) if not numbers.isna().any() else numbers
    known = {str(v): v for v in like.dropna().unique()}
    return values.map(lambda v: known.get(str(v), v))


def log_training_rows(champion: Any, route: str, data: str, *, window: Any, since: Any,
                      until: Any, base_data: str | None = None
                      ) -> tuple[Any, Any, dict[str, Any]]:
    """(base, recent, record): the champion's training data (None with base_data "none")
    and the log's labelled rows of the window (time order), with the log's columns and label
    types lined up to the base."""
    from lathe.data.load import read_table
    from lathe.data.split import content_hash
    from lathe.monitoring.logsource import read_log_times
    from lathe.monitoring.windows import recent_span

    lineage = champion.manifest.get("lineage") or {}
    dataset, target = base_data or lineage.get("dataset"), champion.schema.target
    start, end = recent_span(window, since, until)
    recent, _ = read_log_times(data, model=route, since=start, until=end, target=target,
                               labelled_only=True)
    missing = [c for c in champion.schema.feature_names if c not in recent.columns]
    if missing:
        raise DataError(f"{_shown(data)}: the logged rows have no column {missing[0]!r} the "
                        "model was trained on", column=missing[0],
                        hint="log requests with every input column the model was trained on")
    record = {"log_rows": len(recent), "since": None if start is None else start.isoformat(),
              "until": None if end is None else end.isoformat()}
    if dataset == "none":
        import pandas as pd

        recent = recent.reindex(columns=[*champion.schema.feature_names, target])
        classes = champion.schema.classes if champion.schema.is_classification else None
        like = pd.Series(classes if classes else [0.0])  # the champion's label values
        recent[target] = _labels_like(recent[target], like, _shown(data), target)
        return None, recent, {**record, "base": None}
    if not dataset or not Path(dataset).is_file():
        raise NotFound(f"the champion's training data {dataset!r} (from its lineage) is not "
                       "readable here", hint="run where that file is, pass a copy with "
                       "--base FILE, or --base none to train on the log's rows alone",
                       path=str(dataset))
    base = read_table(dataset)
    recent = recent.reindex(columns=list(base.columns))  # inputs the model ignores: missing
    recent[target] = _labels_like(recent[target], base[target], _shown(data), target)
    changed = lineage.get("dataset_hash") not in (None, content_hash(base))
    if changed:
        print(f"warning: {dataset} differs from the data the champion was trained on "
              "(content hash)", file=sys.stderr)
    return base, recent, {**record, "base": str(dataset), "base_rows": len(base),
                          "base_changed": changed}


def _split(champion: Any, route: str, data: str, window: Any, since: Any, until: Any,
           base_data: str | None) -> tuple[Any, Any, dict[str, Any]]:
    """(fit, holdout, record) from a file or the log; see the module docstring."""
    import pandas as pd

    from lathe.data.load import read_table
    from lathe.monitoring.logsource import is_log_ref
    from lathe.monitoring.windows import parse_window

    size = None if window is None else parse_window(window)
    if is_log_ref(data):
        base, recent, record = log_training_rows(champion, route, data, window=size,
                                                 since=since, until=until, base_data=base_data)
    else:
        if since is not None or until is not None or base_data is not None or (
                size is not None and not isinstance(size, int)):
            raise UsageError("--since/--until, --base and a time --window read the "
                             "prediction log",
                             hint="pass --data log:URL, or a number of rows: --window 5000")
        base, recent = None, read_table(data)
        if isinstance(size, int):
            recent = recent.iloc[-size:]
        record = {}
    n_holdout = max(1, int(round(len(recent) * HOLDOUT_SHARE)))
    fit_recent, holdout = recent.iloc[:-n_holdout], recent.iloc[-n_holdout:]
    fit = fit_recent if base is None else pd.concat([base, fit_recent], ignore_index=True)
    if len(recent) < 5 or len(fit) < MIN_FIT_ROWS:
        raise DataError(f"{_shown(data)} has {len(recent)} labelled rows: too few to train "
                        "on 80 % and compare on the most recent 20 %",
                        hint="pass more recent labelled rows (or a longer --window)")
    record.update(fit_rows=len(fit), holdout_rows=len(holdout), recent_fit_rows=len(fit_recent))
    return fit.reset_index(drop=True), holdout.reset_index(drop=True), record


def retrain(name: str, data: str | os.PathLike[str], *, alias: str | None = None,
            out: str | os.PathLike[str] | None = None, store: str | None = None,
            note: str | None = None, window: Any = None, since: Any = None,
            until: Any = None, base: str | None = None) -> dict[str, Any]:
    """Train, compare, register and (gate-)promote a challenger; see the module docstring."""
    from lathe.config import LatheConfig
    from lathe.model import Model
    from lathe.registry.registry import open_registry
    from lathe.security.signing import parent_signature, signing_key_from_env
    from lathe.training.run import run_training

    signing_key = signing_key_from_env()  # the challenger is signed by whoever retrains
    if signing_key is not None:
        from lathe.security.keys import load_private_key

        load_private_key(signing_key, "LATHE_SIGNING_KEY")  # a bad key fails before training

    data = str(data)
    with open_registry(store) as registry:
        champion = registry.resolve(f"{name}@champion")
        champion_model = Model.load(registry.materialize(champion))
    fit, holdout, record = _split(champion_model, champion.name, data, window, since, until,
                                  base)
    cfg = LatheConfig.model_validate(champion_model.manifest["config"])
    print(f"retraining {champion.ref}'s config ({cfg.train.model}, preset {cfg.train.preset}) "
          f"on {len(fit)} rows; comparing on the {len(holdout)} most recent", file=sys.stderr)
    family, schema, manifest, seen = run_training(fit, _shown(data), cfg)
    manifest["lineage"]["parent"] = {"ref": champion.ref, "sha256": champion.artifact_sha256,
                                     "family": champion.family,
                                     "signature": parent_signature(champion_model.manifest)}
    manifest["lineage"]["retrain"] = {"data": _shown(data), "window": window, **record}
    challenger_model = Model(family, schema, manifest, training_rows=seen)
    # without `out` the registry's copy is the challenger: the staging folder goes afterwards
    target = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"{name}-retrain-"))
    try:
        result = _compare_register(name, _shown(data), champion, champion_model,
                                   challenger_model, holdout, target, schema, alias, store,
                                   note, keep=out is not None)
    finally:
        if out is None:
            shutil.rmtree(target, ignore_errors=True)
    return {**result, **{k: v for k, v in record.items() if k not in result}}


def _compare_register(name: str, data: str, champion: Any, champion_model: Any,
                      challenger_model: Any, holdout: Any, target: Path, schema: Any,
                      alias: str | None, store: str | None, note: str | None, *,
                      keep: bool) -> dict[str, Any]:
    from lathe.evaluation.metrics import higher_is_better
    from lathe.registry import gates
    from lathe.registry.registry import open_registry

    challenger_model.save(target)
    from lathe.security.signing import sign_artifact, signing_key_from_env

    signing_key = signing_key_from_env()
    if signing_key is not None:
        challenger_model.manifest["signature"] = sign_artifact(target, signing_key)
    champion_metrics = champion_model.evaluate(holdout)
    challenger_metrics = challenger_model.evaluate(holdout)
    metric = gates.gate_metric(schema.task, None)
    with open_registry(store) as registry:
        version = registry.register(target, name=name,
                                    note=note or f"retrained from {champion.ref} on {data}")
        promotion: dict[str, Any]
        if alias is not None:
            change = registry.promote(name, version.version, alias=alias,
                                      reason=f"retrain challenger of {champion.ref}")
            promotion = {"promoted": False, "alias": alias, "alias_moved": change.changed}
        else:
            try:
                change = registry.promote(name, version.version, on=holdout,
                                          reason=f"retrain challenger of {champion.ref}")
                promotion = {"promoted": bool(change.changed), "alias": "champion",
                             "gate": change.gate}
            except GateFailed as refused:
                promotion = {"promoted": False, "alias": "champion", "gate_refused": str(refused)}
    ours, theirs = challenger_metrics.get(metric), champion_metrics.get(metric)
    better = None if ours is None or theirs is None else (
        ours > theirs if higher_is_better(metric) else ours < theirs)
    return {
        "name": name, "champion": champion.ref, "challenger": version.ref,
        "parent": champion.ref, "artifact": str(target) if keep else None,
        "data": data, "holdout_rows": len(holdout), "metric": metric,
        "champion_score": theirs, "challenger_score": ours, "challenger_better": better,
        "champion_metrics": _scalars(champion_metrics),
        "challenger_metrics": _scalars(challenger_metrics), **promotion,
    }
