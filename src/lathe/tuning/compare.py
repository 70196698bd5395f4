"""A leaderboard of model families, as PyCaret's `compare_models` gives: each family trained
on the same split under one preset, ranked by the task's primary metric on the held-out test
split, with every test metric, fit seconds, predict rows/s and artifact size.

The split is the run's own (seeded, deterministic, identical rows kept together), so every
family sees the same train/valid/test rows; the seconds are each run's own (refit included);
rows/s is the best of three timed passes over up to 2,000 of the file's rows; the size is
the saved artifact's. `.save(out)` writes the winner.

>>> board = Leaderboard("binary", "roc_auc", [
...     {"model": "linear", "roc_auc": 0.90}, {"model": "gbm", "roc_auc": 0.93}], {})
>>> board.winner
'gbm'
>>> Leaderboard("regression", "rmse", [{"model": "a", "rmse": 2.0}, {"model": "b", "rmse": 1.0},
...                                    {"model": "c", "rmse": None}], {}).winner
'b'
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lathe.errors import ConfigError, did_you_mean

__all__ = ["Leaderboard", "compare_families", "DEFAULT_FAMILIES"]

DEFAULT_FAMILIES = ("gbm", "linear", "mlp")
TIMED_ROWS = 2000


@dataclass
class Leaderboard:
    """`rows`: one dict per family, best first by `metric`; `models`: the trained Models."""

    task: str
    metric: str
    rows: list[dict[str, Any]]
    models: dict[str, Any] = field(default_factory=dict, repr=False)
    scratch: Path | None = field(default=None, repr=False)  # the models' saved copies

    def __post_init__(self) -> None:
        if self.scratch is not None:
            weakref.finalize(self, shutil.rmtree, self.scratch, True)
        from lathe.evaluation.metrics import higher_is_better

        sign = -1.0 if higher_is_better(self.metric) else 1.0

        def key(row: dict[str, Any]) -> float:
            value = row.get(self.metric)
            return float("inf") if value is None or value != value else sign * float(value)

        self.rows.sort(key=key)

    @property
    def winner(self) -> str:
        return str(self.rows[0]["model"])

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "winner": self.winner,
                "models": self.rows}

    def save(self, out: str | os.PathLike[str], *, name: str | None = None,
             force: bool = False) -> Path:
        """Save the winner as an artifact in `out` (an existing one only with `force`)."""
        from lathe.artifact import check_out

        target = Path(out)
        check_out(target, force=force)
        model = self.models[self.winner]
        model.manifest["name"] = name or target.name
        return Path(model.save(target))


def _families(models: list[str] | str | None) -> list[str]:
    from lathe.models import FAMILY_NAMES

    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else
                                 models or DEFAULT_FAMILIES) if m and m.strip()]
    for name in names:
        if name not in FAMILY_NAMES:
            raise ConfigError(f"unknown model {name!r} in models=",
                              hint=did_you_mean(name, FAMILY_NAMES), model=name)
    if not names:
        raise ConfigError("models= names no family", hint=f"e.g. {','.join(DEFAULT_FAMILIES)}")
    return list(dict.fromkeys(names))


def _rows_per_second(model: Any, rows: pd.DataFrame) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        model.predict_raw(rows)
        best = min(best, time.perf_counter() - started)
    return len(rows) / max(best, 1e-9)


def compare_families(frame: pd.DataFrame, source: str, cfg: Any,
                     models: list[str] | str | None = None, *,
                     progress: Callable[[str, dict[str, Any]], None] | None = None
                     ) -> Leaderboard:
    """Train each family of `models` on `frame` under `cfg` (same seed, so the same split)."""
    from lathe.evaluation.metrics import primary_metric
    from lathe.model import Model, dir_size
    from lathe.training.run import run_training

    names = _families(models)
    timed = frame.drop(columns=[cfg.data.target], errors="ignore").head(TIMED_ROWS)
    rows: list[dict[str, Any]] = []
    trained: dict[str, Any] = {}
    task = "regression"
    scratch = Path(tempfile.mkdtemp(prefix="lathe-compare-"))
    try:
        for n, name in enumerate(names, 1):
            if progress is not None:
                progress("member", {"member": n, "total": len(names), "name": name})
            run_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"model": name})})
            family, schema, manifest, seen = run_training(
                frame.copy(), source, run_cfg, progress=progress, started=time.monotonic())
            model = Model(family, schema, manifest, training_rows=seen)
            saved = Path(model.save(scratch / name))
            task = model.task
            test = manifest["metrics"].get("test", {})
            rows.append({
                "model": name,
                **{k: v for k, v in test.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)},
                **({"positive_class": test["positive_class"]} if "positive_class" in test
                   else {}),
                "fit_seconds": manifest["training"]["seconds"],
                "predict_rows_per_second": _rows_per_second(model, timed),
                "size_bytes": dir_size(saved),
            })
            trained[name] = model
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Leaderboard(task, primary_metric(task), rows, trained, scratch)
