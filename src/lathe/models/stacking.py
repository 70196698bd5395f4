"""`voting` and `stacking`: ensembles of other families, themselves ordinary families.

* `voting` — soft voting: a weighted average of the members' probabilities (or predictions
  for regression). `weights` are given, or `"auto"`: fitted on the validation split by
  minimising log loss (squared error for regression) over the simplex.
* `stacking` — each base family is fitted on k-1 folds and predicts the held-out fold, giving
  out-of-fold predictions for every training row; a meta learner (logistic regression, or
  ridge for regression) learns from them. The bases are then refitted on all training rows
  (and, by `refit`, on every labelled row once the test split is scored).

Members are described by plain data, so the constructor still takes only hyperparameters:
``members=[{"family": "gbm", "params": {"n_estimators": 200}}, {"family": "linear"}]``.

>>> import pandas as pd, numpy as np
>>> from lathe.data.infer import infer_schema, encode_labels
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
>>> frame["y"] = np.where(frame.x + (frame.c == "a") > 0.5, "hi", "lo")
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> data = FitData(schema, X, encode_labels(frame.y, schema), threads=1)
>>> members = [{"family": "gbm", "params": {"n_estimators": 30}}, {"family": "linear"}]
>>> Stacking(members=members, folds=3).fit(data).predict_raw(X).shape
(300, 2)
>>> Voting(members=members, weights=[3, 1]).fit(data).weights
[0.75, 0.25]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import joblib
import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.data.split import fold_splits
from lathe.errors import ConfigError
from lathe.models._base import (
    FAMILIES,
    Callback,
    FitData,
    ModelFamily,
    full_proba,
    timed_fit,
    weighted_importance,
)

__all__ = ["Voting", "Stacking", "DEFAULT_MEMBERS"]

DEFAULT_MEMBERS: list[dict[str, Any]] = [{"family": "gbm"}, {"family": "linear"}]


def _member_specs(members: Any) -> list[dict[str, Any]]:
    specs = []
    for i, member in enumerate(members or DEFAULT_MEMBERS):
        spec = {"family": member} if isinstance(member, str) else dict(member)
        if "family" not in spec:
            raise ConfigError(f"ensemble member {i} has no 'family'",
                              hint='write members as [{"family": "gbm", "params": {...}}, ...]')
        spec.setdefault("params", {})
        specs.append(spec)
    return specs


def _build(spec: dict[str, Any]) -> ModelFamily:
    from lathe.models import get_family

    return get_family(spec["family"])(**spec["params"])


def _save_members(directory: Path, members: Sequence[ModelFamily], prefix: str) -> None:
    for i, member in enumerate(members):
        member.save(directory / f"{prefix}_{i:02d}")


def _load_members(directory: Path, names: Sequence[str], schema: Schema,
                  prefix: str) -> list[ModelFamily]:
    from lathe.models import get_family

    return [get_family(name).load(directory / f"{prefix}_{i:02d}", schema)
            for i, name in enumerate(names)]


def _average(raws: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    return np.sum([w * r for w, r in zip(weights, raws, strict=True)], axis=0)


def fit_simplex_weights(raws: Sequence[np.ndarray], y: np.ndarray, task: str) -> list[float]:
    """Non-negative weights summing to 1 that minimise validation log loss (classification)
    or squared error (regression) of the weighted average.

    >>> y = np.array([0, 1, 1, 0])
    >>> good = np.array([[.9, .1], [.1, .9], [.2, .8], [.8, .2]])
    >>> bad = np.full((4, 2), 0.5)
    >>> [round(w, 2) for w in fit_simplex_weights([good, bad], y, "binary")]
    [1.0, 0.0]
    """
    from scipy.optimize import minimize

    def loss(logits: np.ndarray) -> float:
        w = np.exp(logits - logits.max())
        blend = _average(raws, w / w.sum())
        if task == "regression":
            return float(np.mean((blend.ravel() - y) ** 2))
        p = np.clip(blend[np.arange(len(y)), y.astype(int)], 1e-12, 1.0)
        return float(-np.log(p).mean())

    found = minimize(loss, np.zeros(len(raws)), method="Powell",
                     options={"xtol": 1e-3, "ftol": 1e-6, "maxiter": 2000})
    w = np.exp(found.x - found.x.max())
    w = w / w.sum()
    w[w < 1e-3] = 0.0  # a member worth less than 0.1 % is noise, not signal
    return (w / w.sum()).tolist()


@FAMILIES.register("voting")
class Voting(ModelFamily):
    name = "voting"
    param_types = {"members": list[str | dict[str, Any]] | None,
                   "weights": Literal["auto"] | list[float] | None}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"members": DEFAULT_MEMBERS, "weights": "auto"}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.members: list[ModelFamily] = []
        self.weights: list[float] = []

    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        self.schema = data.schema
        specs = _member_specs(self.params["members"])
        self.members = []
        for i, spec in enumerate(specs):
            for cb in callbacks:
                cb("member", {"member": i + 1, "total": len(specs)})
            self.members.append(timed_fit(_build(spec), data, callbacks))
        weights = self.params["weights"]
        X_valid, y_valid = data.X_valid, data.y_valid
        if weights == "auto" and X_valid is not None and y_valid is not None and len(X_valid) \
                and len(self.members) > 1:
            raws = [m.predict_raw(X_valid) for m in self.members]
            self.weights = fit_simplex_weights(raws, y_valid, data.schema.task or "regression")
        else:
            given = np.ones(len(self.members)) if weights in (None, "auto") else np.asarray(weights, float)
            if len(given) != len(self.members) or (given < 0).any() or given.sum() <= 0:
                raise ConfigError(
                    f"voting weights {weights} do not fit {len(self.members)} members",
                    hint="give one non-negative weight per member, or weights: auto")
            self.weights = (given / given.sum()).tolist()
        self.learning_curve = self.members[0].learning_curve
        self.learning_curve_metric = self.members[0].learning_curve_metric
        return self

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Voting | None:
        """Every member refitted on all rows, the weights chosen on the validation split
        kept (`ensemble.refit_members`); None when no member was refitted."""
        from lathe.models.ensemble import with_refitted_members

        def make(members: list[ModelFamily]) -> Voting:
            model = Voting(**self.params)
            model.members, model.weights = members, list(self.weights)
            return model

        refitted: Voting | None = with_refitted_members(self, data, callbacks, make)
        return refitted

    def refit_seconds(self, rows: int) -> float | None:
        return None  # each member's refit is budgeted on its own (refit_members)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return _average([m.predict_raw(X) for m in self.members], self.weights)

    def feature_importance(self) -> dict[str, float]:
        return weighted_importance(self.members, self.weights)

    def describe(self) -> dict[str, Any]:
        return {"family": self.name, "params": self.params, "weights": self.weights,
                "members": [m.describe() for m in self.members]}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        _save_members(directory, self.members, "member")
        (directory / "voting.json").write_text(json.dumps(
            {"params": self.params, "weights": self.weights,
             "families": [m.name for m in self.members]}, default=str))

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        meta = json.loads((directory / "voting.json").read_text())
        model = cls(**meta["params"])
        model.schema = schema
        model.weights = meta["weights"]
        model.members = _load_members(directory, meta["families"], schema, "member")
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        gbm_share = trial.suggest_float("gbm_weight", 0.0, 1.0)
        return {"members": DEFAULT_MEMBERS, "weights": [gbm_share, 1.0 - gbm_share + 1e-9]}


@FAMILIES.register("stacking")
class Stacking(ModelFamily):
    name = "stacking"
    param_types = {"members": list[str | dict[str, Any]] | None, "folds": int,
                   "meta_C": float, "meta_alpha": float}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"members": DEFAULT_MEMBERS, "folds": 5, "meta_C": 1.0, "meta_alpha": 1.0}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.members: list[ModelFamily] = []
        self.meta: Any = None

    def _meta_features(self, raws: Sequence[np.ndarray]) -> np.ndarray:
        """Binary: one probability per base; multiclass: every class; regression: the value."""
        task = self.schema.task if self.schema else "regression"
        if task == "binary":
            cols = [r[:, 1:2] for r in raws]
        elif task == "multiclass":
            cols = list(raws)
        else:
            cols = [np.asarray(r, float).reshape(-1, 1) for r in raws]
        return np.hstack(cols)

    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        from sklearn.linear_model import LogisticRegression, Ridge

        self.schema = data.schema
        specs = _member_specs(self.params["members"])
        X, y = data.X_train, data.y_train
        folds = int(self.params["folds"])
        if folds < 2 or folds > len(y):
            raise ConfigError(f"stacking needs 2 <= folds <= rows, got folds={folds}",
                              hint="set folds: 5")
        splits = fold_splits(X, y, folds, data.seed, stratify=data.schema.is_classification)
        oof: list[np.ndarray] = []
        total = len(specs) * (folds + 1)
        for i, spec in enumerate(specs):
            part: np.ndarray | None = None
            for j, (fit_idx, hold_idx) in enumerate(splits):
                for cb in callbacks:
                    cb("member", {"member": i * (folds + 1) + j + 1, "total": total})
                # the caller's validation split (if any) early-stops every fold model
                fold = FitData(data.schema, X.iloc[fit_idx], y[fit_idx], data.X_valid,
                               data.y_valid, seed=data.seed + j, threads=data.threads)
                pred = _build(spec).fit(fold).predict_raw(X.iloc[hold_idx])
                if part is None:
                    part = np.zeros((len(y), *pred.shape[1:]))
                part[hold_idx] = pred
            assert part is not None
            oof.append(part)
        task = data.schema.task or "regression"
        features = self._meta_features(oof)
        if task == "regression":
            self.meta = Ridge(alpha=float(self.params["meta_alpha"])).fit(features, y)
        else:
            self.meta = LogisticRegression(C=float(self.params["meta_C"]), max_iter=1000)
            self.meta.fit(_logit(features), y.astype(int))
        self.members = [timed_fit(_build(spec), data, callbacks) for spec in specs]
        self.learning_curve = self.members[0].learning_curve
        self.learning_curve_metric = self.members[0].learning_curve_metric
        return self

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Stacking | None:
        """Every base refitted on all rows (`ensemble.refit_members`); the meta learner is
        kept. It learned how to weigh bases that had not seen the rows they predicted, and
        the bases it weighs at prediction time were already fitted on more rows than the
        out-of-fold ones (all training rows): the refit extends that by the validation and
        test rows. None when no base was refitted."""
        from lathe.models.ensemble import with_refitted_members

        def make(members: list[ModelFamily]) -> Stacking:
            model = Stacking(**self.params)
            model.members, model.meta = members, self.meta
            return model

        refitted: Stacking | None = with_refitted_members(self, data, callbacks, make)
        return refitted

    def refit_seconds(self, rows: int) -> float | None:
        return None  # each base's refit is budgeted on its own (refit_members)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        features = self._meta_features([m.predict_raw(X) for m in self.members])
        if self.schema is None or self.schema.task == "regression":
            return np.asarray(self.meta.predict(features), dtype=float)
        return full_proba(self.meta.predict_proba(_logit(features)), self.meta.classes_,
                          self.schema.n_classes)

    def feature_importance(self) -> dict[str, float]:
        coef = np.abs(np.atleast_2d(self.meta.coef_))
        per_member = coef.reshape(coef.shape[0], len(self.members), -1).sum(axis=(0, 2))
        share = per_member / (per_member.sum() or 1.0)
        out: dict[str, float] = {}
        for member, weight in zip(self.members, share, strict=True):
            for name, value in member.feature_importance().items():
                out[name] = out.get(name, 0.0) + float(weight) * value
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def describe(self) -> dict[str, Any]:
        return {"family": self.name, "params": self.params,
                "meta_coef": np.atleast_2d(self.meta.coef_).tolist() if self.meta is not None else None,
                "members": [m.describe() for m in self.members]}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        _save_members(directory, self.members, "base")
        joblib.dump(self.meta, directory / "meta.joblib")
        (directory / "stacking.json").write_text(json.dumps(
            {"params": self.params, "families": [m.name for m in self.members]}, default=str))

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        meta = json.loads((directory / "stacking.json").read_text())
        model = cls(**meta["params"])
        model.schema = schema
        model.meta = joblib.load(directory / "meta.joblib")
        model.members = _load_members(directory, meta["families"], schema, "base")
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"meta_C": trial.suggest_float("meta_C", 1e-2, 100.0, log=True)}


def _logit(p: np.ndarray) -> np.ndarray:
    """Probabilities on the log-odds scale, where a linear meta learner combines them well."""
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))
