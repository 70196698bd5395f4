"""`lathe retrain NAME --data FILE`: a challenger trained with the champion's resolved config.

With no prediction log: the challenger trains on FILE except its last 20 % of rows (file
order); champion and challenger are both scored on those held-back rows (which the
challenger never saw); the challenger is registered with `parent = "NAME:<champion
version>"` in its lineage; then it is promoted to champion only through the registry's gate
(evaluated on the held-back rows), or `alias` is moved to it without a gate (e.g.
`challenger`, for an experiment to take over). A gate that refuses is an outcome, not an
error: the result says `promoted: false` and why.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from lathe.errors import DataError, GateFailed

__all__ = ["retrain", "HOLDOUT_SHARE"]

HOLDOUT_SHARE = 0.2


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None}


def retrain(name: str, data: str | os.PathLike[str], *, alias: str | None = None,
            out: str | os.PathLike[str] | None = None, store: str | None = None,
            note: str | None = None) -> dict[str, Any]:
    """Train, compare, register and (gate-)promote a challenger; see the module docstring."""
    from lathe.config import LatheConfig
    from lathe.data.load import read_table
    from lathe.model import Model
    from lathe.registry.registry import open_registry
    from lathe.security.signing import parent_signature, signing_key_from_env
    from lathe.training.run import run_training

    signing_key = signing_key_from_env()  # the challenger is signed by whoever retrains
    if signing_key is not None:
        from lathe.security.keys import load_private_key

        load_private_key(signing_key, "LATHE_SIGNING_KEY")  # a bad key fails before training

    frame = read_table(data)
    with open_registry(store) as registry:
        champion = registry.resolve(f"{name}@champion")
        champion_model = Model.load(registry.materialize(champion))
    n_holdout = max(1, int(round(len(frame) * HOLDOUT_SHARE)))
    if len(frame) - n_holdout < 20:
        raise DataError(f"{data} has {len(frame)} rows: too few to train on 80 % and compare "
                        "on the last 20 %", hint="pass more recent labelled rows")
    fit, holdout = frame.iloc[:-n_holdout], frame.iloc[-n_holdout:]
    cfg = LatheConfig.model_validate(champion_model.manifest["config"])
    print(f"retraining {champion.ref}'s config ({cfg.train.model}, preset {cfg.train.preset}) "
          f"on {len(fit)} rows; comparing on the last {len(holdout)}", file=sys.stderr)
    family, schema, manifest, seen = run_training(fit.reset_index(drop=True), str(data), cfg)
    manifest["lineage"]["parent"] = {"ref": champion.ref, "sha256": champion.artifact_sha256,
                                     "family": champion.family,
                                     "signature": parent_signature(champion_model.manifest)}
    manifest["lineage"]["retrain"] = {"data": str(data), "fit_rows": len(fit),
                                      "holdout_rows": len(holdout)}
    challenger_model = Model(family, schema, manifest, training_rows=seen)
    # without `out` the registry's copy is the challenger: the staging folder goes afterwards
    target = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"{name}-retrain-"))
    try:
        return _compare_register(name, data, champion, champion_model, challenger_model,
                                 holdout, fit, target, schema, alias, store, note,
                                 keep=out is not None)
    finally:
        if out is None:
            shutil.rmtree(target, ignore_errors=True)


def _compare_register(name: str, data: str | os.PathLike[str], champion: Any,
                      champion_model: Any, challenger_model: Any, holdout: Any, fit: Any,
                      target: Path, schema: Any, alias: str | None, store: str | None,
                      note: str | None, *, keep: bool) -> dict[str, Any]:
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
        "data": str(data),
        "fit_rows": len(fit), "holdout_rows": len(holdout), "metric": metric,
        "champion_score": theirs, "challenger_score": ours, "challenger_better": better,
        "champion_metrics": _scalars(champion_metrics),
        "challenger_metrics": _scalars(challenger_metrics), **promotion,
    }
