"""Presets turn (schema, data, model name, preset, budget) into a fitted model.

* `fast`: one LightGBM with strong defaults, early-stopped on the validation split (seconds).
  Multiclass boosts on past the log-loss optimum and takes the rounds with the best valid
  accuracy.
* `best`: spends up to the time budget on quality. A small portfolio of differently
  parametrised LightGBMs is each bagged over k folds (every fold early-stopped on its own
  held-out part, which also yields out-of-fold predictions); greedy ensemble selection on
  those out-of-fold predictions then picks the blend weights. Half the bags also see how
  often each value occurs (`value_counts`), so the blend takes that feature where it pays
  and leaves it where it does not. For linear models the regularisation is chosen on the
  validation split.

What was measured on UCI Adult (bench/quality.py) and shaped these choices: column
subsampling (`feature_fraction` 0.5-0.7) was the one parameter that helped a single model;
heavier regularisation, bagging rows, extra_trees and deeper trees all lost AUC; blending
the linear family in lost AUC; a decision threshold tuned on out-of-fold predictions did
not raise held-out accuracy, so predictions keep the 0.5 (argmax) rule.

After either preset, `refit_on_all` refits the model on every labelled row (train, valid
and the test split once it has been scored) with what the fit settled on: rounds scaled by
rows, epochs, blend weights. More rows is the cheapest quality there is: Banking77 (frozen
encoder + TF-IDF, 8,002 rows) 0.9165 -> 0.9210 held-out accuracy; UCI Adult `best` +0.0004
ROC-AUC on each of three seeds.

`--model auto` picks `linear` when text columns carry the signal (TF-IDF + logistic
regression is strong and fast there) and `gbm` otherwise.

>>> import pandas as pd, numpy as np
>>> from lathe.data.infer import infer_schema, encode_labels
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
>>> frame["y"] = np.where(frame.x + (frame.c == "a") > 0.5, "hi", "lo")
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> data = FitData(schema, X[:240], encode_labels(frame.y[:240], schema),
...                X[240:], encode_labels(frame.y[240:], schema), threads=1)
>>> choose_family(schema)
'gbm'
>>> fit_preset(data, "gbm", "fast").predict_raw(X).shape
(300, 2)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.data.split import fold_splits
from lathe.models import FitData, ModelFamily, get_family
from lathe.models._base import timed_fit
from lathe.training.blend import (
    DEFAULT_BUDGET_S,
    _score_raw,
    blend_weights,
    simplex_weights,
)

if TYPE_CHECKING:
    from lathe.models.gbm import GBM

__all__ = [
    "choose_family",
    "fit_preset",
    "refit_on_all",
    "preset_budget",
    "blend_weights",
    "simplex_weights",
    "BEST_GBM_PARAMS",
    "BEST_GBM_PORTFOLIO",
    "FAST_GBM_PARAMS",
    "MULTICLASS_GBM_PARAMS",
    "DEFAULT_BUDGET_S",
]

# `fast`: LightGBM defaults with column subsampling, which decorrelates the trees. Adult,
# 5 seeds, refitted on all rows (mean held-out AUC / accuracy): feature_fraction 0.7
# 0.9300 / 0.8738, 0.5 0.9306 / 0.8747; LightGBM defaults 0.9291 / 0.8742.
FAST_GBM_PARAMS: dict[str, Any] = {"feature_fraction": 0.5}
# Shared by every `best` member: patient early stopping, since each fold stops on its own part.
BEST_GBM_PARAMS: dict[str, Any] = {"n_estimators": 10000, "early_stopping_rounds": 200}
# The `best` portfolio, most valuable first (fitted in this order until the budget runs out).
# Value counts alternate with plain bags and the out-of-fold blend weighs them per dataset
# (bench/quality.py, seeds 0-2, against the five plain bags of the earlier portfolio): Adult
# held-out AUC +0.0012 / +0.0017 / +0.0015, accuracy +0.0007 / +0.0041 / +0.0025; wine
# multiclass accuracy +0.006 / +0.004 / -0.001 with log loss lower on each seed; wine
# regression RMSE -0.001 / -0.001 / +0.001. Counts in all five bags did as well on Adult but
# raised wine's log loss and RMSE on two seeds of three.
_COUNTED = {"value_counts": True}
BEST_GBM_PORTFOLIO: list[dict[str, Any]] = [
    {"feature_fraction": 0.5, **_COUNTED},
    {"feature_fraction": 0.5},
    {"feature_fraction": 0.7, "num_leaves": 15, "learning_rate": 0.03, **_COUNTED},
    {"feature_fraction": 0.7, "max_cat_to_onehot": 64},
    {"feature_fraction": 0.7, "learning_rate": 0.02, **_COUNTED},
    {"feature_fraction": 0.6, "min_data_per_group": 50, "cat_smooth": 5.0},
]
# Multiclass `fast` (instead of FAST_GBM_PARAMS): boost past the log-loss optimum; rounds
# are then chosen by accuracy. Column subsampling 0.7 here: wine quality, 5 seeds, mean
# held-out accuracy 0.5575 (0.7) vs 0.5535 (0.5); LightGBM defaults 0.5489.
MULTICLASS_GBM_PARAMS: dict[str, Any] = {"n_estimators": 1000, "early_stopping_rounds": 1000,
                                         "learning_rate": 0.1, "feature_fraction": 0.7}
FOLDS = 5
# Passes over the portfolio, each with new fold seeds. A second pass was measured on Adult:
# 3x the time (79 s) for no AUC gain (0.9283 vs 0.9284), so one pass is the default.
BEST_PASSES = 1
# Stop starting new work when this share of the budget is spent (reading/scoring need time too).
BUDGET_SHARE = 0.85
Progress = Callable[[str, dict[str, Any]], None]


def choose_family(schema: Schema) -> str:
    """When text columns are at least half the inputs: `text` (the pretrained encoder blended
    with TF-IDF) for English text if PyTorch and the encoder are installed, else `linear`
    (TF-IDF; also for Chinese, which the English MiniLM does not read well: 0.74 vs 0.885
    accuracy on ChnSentiCorp). A column mixing Chinese with other rows goes to `text` too: its
    TF-IDF member gives each language its own features, and the blend was measured better
    there than `linear` alone (SST-2 + ChnSentiCorp: en 0.856 vs 0.830, zh 0.881 vs 0.890;
    bench/validation.py). Otherwise `gbm`."""
    texts = schema.names_of("text")
    if texts and len(texts) * 2 >= len(schema.columns):
        english = all(schema.column(c).language != "zh" for c in texts)
        return "text" if english and _encoder_installed() else "linear"
    return "gbm"


def _encoder_installed() -> bool:
    from importlib.util import find_spec

    from lathe.models._encoder import ENCODER_PACKAGE

    return find_spec("torch") is not None and find_spec(ENCODER_PACKAGE) is not None


def fit_preset(
    data: FitData,
    model: str = "auto",
    preset: str = "fast",
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ModelFamily:
    """Fit the chosen family under the preset; returns the fitted model (maybe an ensemble).

    The model has not seen `data`'s validation rows (they chose rounds, epochs and blend
    weights); `refit_on_all` is the step that then learns from them too.
    """
    started = time.monotonic()
    fitted = _fit_preset(data, model, preset, params, progress)
    if fitted.fit_seconds is None:  # a preset that timed its final fit itself knows better
        fitted.fit_seconds = time.monotonic() - started
    fitted.rows_fitted = fitted.rows_fitted or len(data.X_train)
    return fitted


def _fit_preset(data: FitData, model: str, preset: str, params: dict[str, Any] | None,
                progress: Progress | None) -> ModelFamily:
    name = choose_family(data.schema) if model == "auto" else model
    family = get_family(name)
    callbacks = [progress] if progress else []
    params = dict(params or {})
    if name == "text":
        from lathe.training.text_preset import text_blend

        return text_blend(data, preset, params, callbacks)
    if name == "gbm":
        if preset == "best":
            return _best_gbm(data, params, callbacks)
        return _fast_gbm(data, params, callbacks)
    if name == "linear" and preset == "best":
        return _best_linear(data, params, callbacks)
    return family(**params).fit(data, callbacks)


def preset_budget(family: str, preset: str, configured: float | None = None) -> float | None:
    """The time budget of a whole training run (fit and refit) in seconds: the configured
    one, else the `best` preset's for the families that spend one (gbm 120 s, text 20 min);
    otherwise none.

    >>> preset_budget("text", "best"), preset_budget("gbm", "best"), preset_budget("gbm", "fast")
    (1200.0, 120.0, None)
    """
    if configured:
        return configured
    if preset != "best" or family not in ("gbm", "text"):
        return None  # only these spend a budget of their own in the first fit
    return DEFAULT_BUDGET_S["text-best" if family == "text" else "best"]


def refit_on_all(model: ModelFamily, data: FitData, budget_s: float | None = None,
                 progress: Progress | None = None) -> tuple[ModelFamily, dict[str, Any]]:
    """`model` refitted on all of `data` (train + valid + scored test rows, no validation
    split) within `budget_s`, and a record of what happened for the manifest. The model is
    kept as it is when its refit returns None (no settled rounds or epochs, or the budget would
    cut the refit short) or when the budget would not cover the refit. A catch-all model
    refits its classifier and keeps its routing rule.

    >>> import pandas as pd, numpy as np
    >>> from lathe.data.infer import infer_schema, encode_labels
    >>> frame = pd.DataFrame({"x": np.arange(200.0), "y": ["a", "b"] * 100})
    >>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
    >>> first = get_family("linear")().fit(FitData(schema, X[:100], encode_labels(frame.y[:100], schema)))
    >>> model, record = refit_on_all(first, FitData(schema, X, encode_labels(frame.y, schema)))
    >>> record["rows"], model is first
    (200, False)
    """

    rows = len(data.X_train)
    if budget_s is not None and budget_s <= 1.0:
        return model, {"rows": None, "skipped": "the time budget was spent by the first fit"}
    estimate = model.refit_seconds(rows)
    if budget_s is not None and estimate is not None and estimate > budget_s:
        return model, {"rows": None, "skipped": f"a refit would take about {estimate:.0f} s; "
                       f"{budget_s:.0f} s of the time budget are left"}
    callbacks = [progress] if progress else []
    for cb in callbacks:
        cb("refit", {"rows": rows})
    started = time.monotonic()
    refitted = model.refit(replace(data, X_valid=None, y_valid=None, time_budget_s=budget_s),
                           callbacks)
    seconds = round(time.monotonic() - started, 3)
    if refitted is None:
        return model, {"rows": None, "seconds": seconds,
                       "skipped": f"the {model.name} family keeps its first fit (it cannot "
                       "refit, or the time budget would have cut the refit short)"}
    refitted.fit_seconds = seconds
    return refitted, {"rows": rows, "seconds": seconds, **refitted.refit_report}


# ---- shared helpers ------------------------------------------------------------------------
def _rounds_for_accuracy(model: GBM, X: pd.DataFrame, y: np.ndarray) -> None:
    """Multiclass: set the GBM's rounds to those with the best accuracy on (X, y).

    Early stopping watches log loss, which turns up long before accuracy stops rising
    (wine quality: LightGBM defaults beat a log-loss-stopped model by 4 points of accuracy).
    """
    booster = getattr(model, "booster", None)
    if booster is None or not len(y):
        return
    last = model.tree_count()
    grid = sorted({*range(20, last + 1, 20), last})
    accuracy = [float((raw.argmax(axis=1) == y).mean())
                for raw in model.predict_raw_by_trees(X, grid)]
    model.use_trees(grid[int(np.argmax(accuracy))])  # first of equals: fewer rounds


def _combined(data: FitData) -> tuple[pd.DataFrame, np.ndarray]:
    if data.X_valid is None or data.y_valid is None or not len(data.X_valid):
        return data.X_train, data.y_train
    return pd.concat([data.X_train, data.X_valid]), np.concatenate([data.y_train, data.y_valid])


# ---- fast ----------------------------------------------------------------------------------
def _fast_gbm(data: FitData, params: dict[str, Any], callbacks: list[Any]) -> ModelFamily:
    """Early-stop on valid to learn the number of rounds (`refit_on_all` then refits on
    every row for that many rounds, scaled by rows). User `params` override the preset's."""
    from lathe.models.gbm import GBM

    multiclass = data.schema.task == "multiclass"
    defaults = MULTICLASS_GBM_PARAMS if multiclass else FAST_GBM_PARAMS
    stopped = GBM(**{**defaults, **params}).fit(data, callbacks)
    if multiclass and data.X_valid is not None and data.y_valid is not None and len(data.X_valid):
        _rounds_for_accuracy(stopped, data.X_valid, data.y_valid)
    return stopped


# ---- best ----------------------------------------------------------------------------------
def _best_linear(data: FitData, params: dict[str, Any], callbacks: list[Any]) -> ModelFamily:
    """The regularisation with the best validation score over a grid (features fitted once,
    `Linear.sweep`; the grid stops when half the budget is spent), then one fit on train +
    valid with it."""
    from lathe.models.linear import Linear

    key = "alpha" if data.schema.task == "regression" else "C"
    grid = [params[key]] if key in params else [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    if data.X_valid is None or data.y_valid is None or len(grid) == 1:
        return Linear(**{**params, key: grid[0]}).fit(data, callbacks)
    deadline = time.monotonic() + data.time_budget_s / 2 if data.time_budget_s else None
    scored = Linear(**params).sweep(data, key, grid, deadline, callbacks)
    scores = [_score_raw(data.schema, data.y_valid, raw) for _, raw in scored]
    best_value = scored[int(np.argmax(scores))][0]  # the first of equals: the smaller value
    X, y = _combined(data)
    combined = FitData(data.schema, X, y, seed=data.seed, threads=data.threads)
    return timed_fit(Linear(**{**params, key: best_value}), combined, callbacks)


@dataclass
class _Bag:
    """One portfolio entry bagged over k folds, with its out-of-fold predictions."""

    params: dict[str, Any]
    members: list[ModelFamily] = field(default_factory=list)
    oof: np.ndarray | None = None
    complete: bool = False


def _fit_bag(data: FitData, X: pd.DataFrame, y: np.ndarray, params: dict[str, Any],
             folds: int, seed: int, deadline: float, callbacks: list[Any], index: int,
             total: int) -> _Bag:
    from lathe.models.gbm import GBM

    bag = _Bag(params)
    oof: np.ndarray | None = None
    splits = fold_splits(X, y, folds, seed, stratify=data.schema.is_classification)
    for i, (fit_idx, hold_idx) in enumerate(splits):
        remaining = deadline - time.monotonic()
        if remaining <= 0 and (bag.members or index > 0):
            return bag  # out of time: an incomplete bag is only kept if it is the first
        for cb in callbacks:
            cb("member", {"member": index * folds + i + 1, "total": total * folds})
        fold = FitData(data.schema, X.iloc[fit_idx], y[fit_idx], X.iloc[hold_idx], y[hold_idx],
                       seed=seed + i, time_budget_s=max(remaining, 1.0), threads=data.threads)
        fold_started = time.monotonic()
        member = GBM(**params).fit(fold, callbacks)
        member.fit_seconds = time.monotonic() - fold_started
        part = member.predict_raw(X.iloc[hold_idx])
        if oof is None:
            oof = np.zeros((len(y), *part.shape[1:]))
        oof[hold_idx] = part
        bag.members.append(member)
    bag.oof, bag.complete = oof, True
    return bag


def _best_gbm(data: FitData, params: dict[str, Any], callbacks: list[Any]) -> ModelFamily:
    """Bag each portfolio entry over k folds while the budget lasts, then blend on OOF."""
    from lathe.models.ensemble import Ensemble

    started = time.monotonic()
    budget = data.time_budget_s or DEFAULT_BUDGET_S["best"]
    deadline = started + budget * BUDGET_SHARE
    params = dict(params)
    folds = int(params.pop("folds", FOLDS))
    # User parameters pin every member; the portfolio varies only what they leave open.
    # (Accuracy-chosen rounds, as in `fast`, were tried for multiclass bags: the log loss of
    # the blend doubled on wine quality, so bags keep log-loss early stopping.)
    portfolio = [{**BEST_GBM_PARAMS, **entry, **params}
                 for _ in range(BEST_PASSES) for entry in BEST_GBM_PORTFOLIO]
    X, y = _combined(data)
    bags: list[_Bag] = []
    slowest = 0.0
    for index, entry in enumerate(portfolio):
        now = time.monotonic()
        if bags and now + 1.5 * slowest > deadline:
            break  # another bag would likely overrun the budget
        bag = _fit_bag(data, X, y, entry, folds, data.seed + 1000 * index, deadline, callbacks,
                       index, len(portfolio))
        slowest = max(slowest, time.monotonic() - now)
        if bag.complete or not bags:
            bags.append(bag)
        if not bag.complete:
            break
    complete = [b for b in bags if b.complete and b.oof is not None]
    if len(complete) >= 2:
        weights = blend_weights([b.oof for b in complete if b.oof is not None], y, data.schema)
    else:
        complete, weights = bags[:1], [1.0]
    members: list[ModelFamily] = []
    member_weights: list[float] = []
    for bag, weight in zip(complete, weights, strict=True):
        if weight <= 0:
            continue
        members.extend(bag.members)
        member_weights.extend([weight / len(bag.members)] * len(bag.members))
    ensemble = Ensemble(members, member_weights)
    ensemble.schema = data.schema
    ensemble.learning_curve = members[0].learning_curve
    ensemble.learning_curve_metric = members[0].learning_curve_metric
    return ensemble
