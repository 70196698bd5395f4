"""`tune`: an Optuna study over a family's search space, shared through a storage URL, with
the best model refitted and returned as a `lathe.Model`.

* The study lives in an RDB storage: a SQLite file under `.lathe/` by default, or any URL
  (`postgresql+psycopg://user@host:5432/db`) so processes on other machines join it.
* `workers=N` starts N worker processes (forked from a forkserver) that load the same
  study; each runs its share of the trials, so the study ends with exactly `trials` finished
  trials (numbers 0..n-1, none lost or repeated — Optuna's storage hands out trial numbers
  atomically).
* Resume: the study name defaults to one derived from the data, target and family, and is
  loaded if it exists; only the trials still missing are run. Trials of a killed process are
  failed by the storage heartbeat and do not count.
* Objectives: `("quality",)` (the task's primary metric) or `("quality", "latency")` (ms per
  1,000 rows) for a Pareto front (NSGA-II is the natural sampler there; pruning is off for
  several objectives, as Optuna cannot prune them).

>>> import lathe.tuning as lt  # doctest: +SKIP
>>> result = lt.tune("examples/data/adult.csv", "income", trials=30, cv_folds=3)  # doctest: +SKIP
>>> result.best_params, result.model.manifest["tuning"]["best_value"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import UsageError
from lathe.evaluation.metrics import higher_is_better, primary_metric
from lathe.evaluation.scoring import score_split
from lathe.footprint import FootprintTracker
from lathe.manifest import Lineage, build_manifest, training_record
from lathe.models import ModelFamily, get_family
from lathe.tuning._objective import Objective
from lathe.tuning._prepare import Prepared, prepare
from lathe.tuning._study import (
    PRUNERS,
    SAMPLERS,
    close_storage,
    default_storage_url,
    is_in_memory,
    make_pruner,
    make_sampler,
    mask_url,
    open_storage,
    open_study,
    quiet_optuna,
    require_optuna,
    trials_table,
)
from lathe.tuning.space import grid_from_space, recorded_space, starting_point
from lathe.tuning.workers import catchable_errors, finished_trials, run_workers

__all__ = ["tune", "TuneResult", "OBJECTIVE_NAMES"]

Progress = Callable[[str, dict[str, Any]], None]
OBJECTIVE_NAMES = ("quality", "latency")
_QUALITY_ALIASES = {"quality", "auc", "roc_auc", "accuracy", "rmse", "score"}
# Under cross-validation there is no validation split to early-stop on, so the number of
# boosting rounds becomes a searched parameter (users can pin or narrow it).
CV_GBM_ROUNDS = {"low": 50, "high": 1000, "log": True}
FRONT_LIMIT = 20


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_value: float | list[float]
    metric: str
    objectives: tuple[str, ...]
    directions: list[str]
    trials: pd.DataFrame
    pareto_front: list[dict[str, Any]]
    model: Any  # lathe.Model, or None when refit=False
    study_name: str
    storage: str
    counts: dict[str, int]
    seconds: float
    _context: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the one stored in the model's manifest)."""
        return {
            "study_name": self.study_name,
            "storage": self.storage,
            "metric": self.metric,
            "objectives": list(self.objectives),
            "directions": self.directions,
            "best_params": self.best_params,
            "best_value": self.best_value,
            "trials": self.counts,
            "pareto_front": self.pareto_front,
            "seconds": round(self.seconds, 3),
            "sampler_seed": self._context.get("sampler_seed"),
        }

    def save(self, out: str | os.PathLike[str], *, front: bool = True) -> Path:
        """Save the best model to `out`; for several objectives also refit and save each
        Pareto-front model under `out/pareto/trial-NNNN` and plot the front."""
        if self.model is None:
            raise UsageError("this result has no refitted model", hint="call tune(refit=True)")
        path = Path(self.model.save(out))
        if front and len(self.objectives) > 1 and self._context:
            from lathe.tuning.pareto import save_front

            ctx = self._context
            save_front(self, path / "pareto", lambda trial: build_model(
                self, _trial_params(trial, ctx["family"], ctx["overrides"])))
        return path


def _normalise_objectives(objectives: Sequence[str] | str) -> tuple[str, ...]:
    names = [objectives] if isinstance(objectives, str) else list(objectives)
    out: list[str] = []
    for raw in names:
        for name in str(raw).split(","):
            name = name.strip().lower()
            if not name:
                continue
            canonical = "quality" if name in _QUALITY_ALIASES else name
            if canonical not in OBJECTIVE_NAMES:
                raise UsageError(f"unknown objective {name!r}",
                                 hint="use quality (or auc/accuracy/rmse) and latency")
            if canonical not in out:
                out.append(canonical)
    if not out:
        raise UsageError("no objective given", hint="use quality, or quality,latency")
    return tuple(out)


def tune(
    data: str | os.PathLike[str] | pd.DataFrame,
    target: str,
    *,
    model: str = "gbm",
    trials: int = 50,
    timeout_s: float | None = None,
    sampler: str = "tpe",
    objectives: Sequence[str] | str = ("quality",),
    pruner: str = "median",
    cv_folds: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int = 1,
    seed: int = 0,
    sampler_seed: int | None = None,
    space_overrides: Mapping[str, Any] | None = None,
    threads: int | None = None,
    refit: bool = True,
    bag_folds: int | None = None,
    progress: Progress | None = None,
    refit_all: bool = True,
    positive_class: str | None = None,
) -> TuneResult:
    """Search hyperparameters of `model` on `data`; returns the best (refitted) model too.

    `seed` fixes the splits, folds and fits; `sampler_seed` (default: `seed`) only the
    sampler's draws, so repeated searches of one problem can differ in nothing else.
    `refit` builds the best model; `refit_all` then refits it on every labelled row once
    the test split is scored (one objective only; within what `timeout_s` leaves).
    `positive_class`: a binary label's class that plain precision/recall/f1 describe.
    """
    require_optuna()
    objective_names = _normalise_objectives(objectives)
    if sampler not in SAMPLERS:
        make_sampler(sampler, seed=seed, n_trials=trials, grid=None)  # raises the ConfigError
    if pruner not in PRUNERS:
        make_pruner(pruner, cv_folds=cv_folds)
    if workers > 1 and storage is not None and is_in_memory(storage):
        raise UsageError(f"--workers {workers} needs a storage the worker processes share; "
                         f"{storage} lives in one process",
                         hint="use a SQLite file (the default) or a PostgreSQL URL")
    if trials < 1 or workers < 1:
        raise UsageError(f"trials ({trials}) and workers ({workers}) must be at least 1")
    if cv_folds is not None and cv_folds < 2:
        raise UsageError(f"cv_folds must be at least 2, not {cv_folds}", hint="or pass None")
    if bag_folds is not None and (bag_folds < 2 or model != "gbm"):
        raise UsageError(f"--bag {bag_folds} with --model {model}: bagging the best parameters "
                         "needs the gbm family and at least 2 folds", hint="e.g. --bag 5")
    started = time.time()
    deadline = started + timeout_s if timeout_s else None
    family = get_family(model)
    overrides = dict(space_overrides or {})
    if cv_folds and model == "gbm" and "n_estimators" not in overrides:
        overrides["n_estimators"] = dict(CV_GBM_ROUNDS)
    prepared = prepare(data, target, seed=seed, threads=threads,
                       positive_class=positive_class)
    metric = primary_metric(prepared.schema.task or "regression")
    quality_direction = "maximize" if higher_is_better(metric) else "minimize"
    directions = [quality_direction if o == "quality" else "minimize" for o in objective_names]
    url = storage or default_storage_url()
    name = study_name or f"lathe-{target}-{model}-{prepared.dataset_hash.split(':')[-1][:12]}"
    grid = grid_from_space(recorded_space(family, overrides)) if sampler == "grid" else None
    objective = Objective(prepared, family, overrides=overrides, objectives=objective_names,
                          cv_folds=cv_folds, deadline=deadline, prune=pruner != "none")
    plan = _Plan(name=name, url=url, directions=directions, sampler=sampler, pruner=pruner,
                 seed=seed if sampler_seed is None else sampler_seed, trials=trials, grid=grid,
                 cv_folds=cv_folds, workers=workers,
                 deadline=deadline, objectives=objective_names, metric=metric, started=started,
                 refit=refit, overrides=overrides, bag_folds=bag_folds, refit_all=refit_all,
                 footprint=FootprintTracker().start())  # the search's, for its models
    with quiet_optuna():
        storage_obj = open_storage(url)
        try:
            study = open_study(storage_obj, plan)
            if sampler in ("tpe", "random") and not study.get_trials(deepcopy=False):
                start = starting_point(recorded_space(family, overrides), family.default_params())
                if start:
                    study.enqueue_trial(start, skip_if_exists=True)
                    if workers > 1:
                        # run it here, once: workers racing for an enqueued trial on SQLite
                        # could both run it (6 distinct trials of 7, in about half the runs)
                        study.optimize(objective, n_trials=1, catch=catchable_errors())
            already = finished_trials(study)
            remaining = max(0, trials - already)
            if remaining and workers == 1:
                def report(study: Any, trial: Any) -> None:
                    if progress:
                        progress("trial", {"trial": finished_trials(study) - already,
                                           "total": remaining, "value": trial.values})

                study.optimize(objective, n_trials=remaining, timeout=None if deadline is None
                               else max(0.0, deadline - time.time()), callbacks=[report],
                               catch=catchable_errors())
            elif remaining:
                shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
                specs = [{"study_name": name, "storage": url, "sampler": sampler,
                          "seed": plan.seed + i,
                          "n_total": trials, "grid": grid, "pruner": pruner, "cv_folds": cv_folds,
                          "deadline": deadline, "objective": objective, "n_trials": share}
                         for i, share in enumerate(shares) if share]
                run_workers(specs, study, progress, remaining, already)
            return _collect(study, prepared, family, plan, progress)
        finally:
            plan.footprint.cancel()  # a no-op once build_model has stopped it
            close_storage(storage_obj)


@dataclass
class _Plan:
    """The settings of one `tune` call that the study and the result need."""

    name: str
    url: str
    directions: list[str]
    sampler: str
    pruner: str
    seed: int
    trials: int
    grid: dict[str, list[Any]] | None
    cv_folds: int | None
    workers: int
    deadline: float | None
    objectives: tuple[str, ...]
    metric: str
    started: float
    refit: bool
    overrides: dict[str, Any]
    bag_folds: int | None = None
    refit_all: bool = True
    footprint: Any = None  # the FootprintTracker running since the search began


def _collect(study: Any, prepared: Prepared, family: type[ModelFamily], plan: _Plan,
             progress: Progress | None) -> TuneResult:
    import optuna

    all_trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for trial in all_trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise UsageError(f"no trial of study {study.study_name!r} completed ({counts})",
                         hint="give more --trials or a longer --timeout")
    front: list[dict[str, Any]] = []
    objectives, directions, overrides = plan.objectives, plan.directions, plan.overrides
    if len(objectives) == 1:
        best = study.best_trial
        best_value: float | list[float] = float(best.value)
    else:
        pareto = sorted(study.best_trials, key=lambda t: t.values[0],
                        reverse=directions[0] == "maximize")
        front = [{"trial": t.number, "values": dict(zip(objectives, map(float, t.values),
                                                        strict=True)), "params": t.params}
                 for t in pareto]
        best = pareto[0]
        best_value = [float(v) for v in best.values]
    params = _trial_params(best, family, overrides)
    result = TuneResult(
        best_params=params, best_value=best_value, metric=plan.metric, objectives=objectives,
        directions=directions, trials=trials_table(study), pareto_front=front, model=None,
        study_name=study.study_name, storage=mask_url(plan.url), counts=counts,
        seconds=time.time() - plan.started,
        _context={"prepared": prepared, "family": family, "overrides": overrides,
                  "cv_folds": plan.cv_folds, "bag_folds": plan.bag_folds,
                  "deadline": plan.deadline, "sampler_seed": plan.seed,
                  "footprint_tracker": plan.footprint})
    if plan.refit:
        if progress:
            progress("refit", {"params": params})
        result.model = build_model(result, params,
                                   refit_all=plan.refit_all and len(objectives) == 1)
    return result


def _trial_params(trial: Any, family: type[ModelFamily], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's full parameters: what was sampled plus what the overrides pinned."""
    from lathe.tuning.space import suggest_params

    optuna = require_optuna()
    fixed = optuna.trial.FixedTrial(trial.params)
    return suggest_params(family, fixed, overrides)


def refit_family(result: TuneResult, params: dict[str, Any],
                 bag_folds: int | None = None) -> ModelFamily:
    """Fit with `params` on the tuning data: early-stopped on valid, or on train+valid (CV).

    With `bag_folds=K` (gbm only) the best parameters are bagged instead, as `--preset best`
    bags its portfolio: K boosters on train+valid, each early-stopped on its own held-out
    fold, averaged. K times the size and prediction time for a steadier model.
    """
    from lathe.models import FitData

    ctx = result._context
    prepared: Prepared = ctx["prepared"]
    d = prepared.fit_data
    if bag_folds:
        return _bagged(prepared, ctx["family"], params, bag_folds)
    if ctx["cv_folds"]:
        X, y = prepared.combined()
        data = FitData(d.schema, X, y, seed=d.seed, threads=d.threads)
    else:
        data = d
    return ctx["family"](**params).fit(data)


def _bagged(prepared: Prepared, family: type[ModelFamily], params: dict[str, Any],
            folds: int) -> ModelFamily:
    from lathe.models.ensemble import Ensemble
    from lathe.training.presets import _fit_bag

    X, y = prepared.combined()
    data = prepared.fit_data
    bag = _fit_bag(data, X, y, dict(params), folds, data.seed, float("inf"), [], 0, 1)
    ensemble = Ensemble(bag.members)
    ensemble.schema = data.schema
    ensemble.learning_curve = bag.members[0].learning_curve
    ensemble.learning_curve_metric = bag.members[0].learning_curve_metric
    return ensemble


def build_model(result: TuneResult, params: dict[str, Any], refit_all: bool = False) -> Any:
    """The refitted model as a `lathe.Model`, with the tuning summary in its manifest.

    With `refit_all` (the single best model of a one-objective study), once the test split
    is scored the model is refitted on every labelled row, as `lathe train` does; Pareto
    front models keep the fit their latency and size were measured on.
    """
    from lathe.config import load_config
    from lathe.model import Model

    prepared: Prepared = result._context["prepared"]
    schema = prepared.schema
    fit_started = time.monotonic()
    fitted = refit_family(result, params, result._context.get("bag_folds"))
    test = score_split(fitted, schema, prepared.X_test, prepared.y_test)
    metrics: dict[str, Any] = {"test": test} if test else {}
    refit_record: dict[str, Any] = {"rows": None, "skipped": "a Pareto front model keeps the "
                                    "fit its objectives were measured on"}
    if refit_all:
        from lathe.models import FitData
        from lathe.training.presets import refit_on_all

        X, y = prepared.combined()
        everything = FitData(schema, pd.concat([X, prepared.X_test]),
                             np.concatenate([y, prepared.y_test]),
                             seed=prepared.fit_data.seed, threads=prepared.fit_data.threads)
        deadline = result._context.get("deadline")
        left = None if deadline is None else deadline - time.time()
        fitted, refit_record = refit_on_all(fitted, everything, left)
    cfg = load_config(None, data__target=schema.target, data__task=schema.task,
                      train__model=fitted.name, train__params=_jsonable(params),
                      train__seed=prepared.fit_data.seed)
    manifest = build_manifest(
        fitted, chosen_family=fitted.name, schema=schema, config=cfg, metrics=metrics,
        primary_metric=result.metric,
        lineage=Lineage(dataset=prepared.source, dataset_hash=prepared.dataset_hash,
                        rows={**prepared.rows, "refit": refit_record["rows"]}),
        training=training_record(time.monotonic() - fit_started, refit_record),
        sections={"tuning": _jsonable(result.summary())})
    tracker = result._context.pop("footprint_tracker", None)
    if tracker is not None:  # the search and this refit: one footprint for its models
        result._context["footprint"] = tracker.stop()
    manifest["footprint"] = result._context.get("footprint")
    from lathe.data.overlap import row_hashes

    X_seen, _ = prepared.combined()
    if refit_record["rows"]:
        X_seen = pd.concat([X_seen, prepared.X_test])
    return Model(fitted, schema, manifest, training_rows=row_hashes(X_seen))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
