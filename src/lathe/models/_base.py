"""The contract every model family keeps (checked for all of them by tests/contracts).

Rules:
  * The constructor takes only hyperparameters (`params`), never data.
  * `fit` receives a `FitData`: features already conformed by `Schema.conform` (numeric
    float64, categoricals as pandas Categorical with the training categories, text as str),
    labels encoded (class indices 0..k-1, or floats for regression). It returns self and
    records `learning_curve` (validation metric per round/epoch) where that makes sense.
  * `predict_raw` returns class probabilities of shape (n, k) — k columns even for binary —
    or predictions of shape (n,) for regression. It must not mutate its input.
  * `save(directory)` writes only inside `directory`; `load(directory, schema)` needs nothing
    else. A loaded model predicts exactly what the saved one did.
  * Thread safety: after `fit`, `predict_raw` may be called from several threads at once.
  * `refit(data)` returns a *new* model with the settings this fit settled on (boosting
    rounds, epochs, regularisation, blend weights), fitted on every row of `data` with no
    validation split, or None when the family cannot; it never changes `self`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.models._params import check_params
from lathe.plugins import Registry

__all__ = ["ModelFamily", "FitData", "MatrixPath", "FAMILIES", "Callback", "full_proba", "weighted_importance",
           "without_validation", "timed_fit"]

Callback = Callable[[str, dict[str, Any]], None]
"""Called as callback(event, info), e.g. ("round", {"round": 10, "valid": 0.31})."""


@dataclass
class FitData:
    schema: Schema
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame | None = None
    y_valid: np.ndarray | None = None
    seed: int = 0
    time_budget_s: float | None = None
    threads: int | None = None
    sample_weight: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def without_validation(data: FitData, **changes: Any) -> FitData:
    """`data` as a refit sees it: no validation split and no checkpoints shared with the
    first fit (a refit that resumed from them would continue the wrong run); a configured
    checkpoint directory gets a `refit` sub-directory so a killed refit resumes too."""
    extra = dict(data.extra)
    if extra.get("checkpoint_dir"):
        extra["checkpoint_dir"] = str(Path(extra["checkpoint_dir"]) / "refit")
    return replace(data, X_valid=None, y_valid=None, extra=extra, **changes)


@dataclass(frozen=True)
class MatrixPath:
    """A family's fast way to predict rows that are already numbers: one float64 column per
    schema column, in schema order (numbers as they are, booleans 0/1, a categorical value
    as its code in `codes[column]`, NaN where missing or unseen). `predict(matrix)` returns
    what `predict_raw` would for the same rows. The server encodes JSON rows straight into
    such a matrix and skips pandas."""

    codes: dict[str, dict[str, int]]
    predict: Callable[[np.ndarray], np.ndarray]


class ModelFamily(ABC):
    """See the module docstring for the rules. Capabilities that only some families have are
    methods here with a "not supported" default, so code outside `models/` asks the family
    (`has_tree_contributions`, `matrix_path`, `prune_unit` / `net_view`, `catch_all_index`)
    instead of testing its name."""

    name: ClassVar[str] = ""
    exports_onnx: ClassVar[bool] = False
    # trains with differential privacy when FitData.extra["dp"] holds a plan (lathe.privacy.dp)
    private_training: ClassVar[bool] = False
    # what a private fit spent (mechanism, epsilon, delta, accountant, ...); None otherwise
    privacy: dict[str, Any] | None = None
    prune_unit: ClassVar[str | None] = None
    """What pruning removes: "trees" (a boosted model keeps a prefix of its trees:
    `tree_count` / `use_trees`), "units" (a torch net's neurons, heads or weights:
    `net_view`), or None when the family cannot be pruned."""

    param_types: ClassVar[Mapping[str, Any] | None] = None
    """Every parameter the constructor takes, with its type (a typing annotation such as
    `float`, `int | None` or `Literal["auto"] | float`); each key of `default_params()` is
    among them. An unknown key or a value of another type is a ConfigError naming the key,
    a close match and the allowed keys (`lathe.models._params`). None skips the check (a
    plug-in family written before parameters were declared)."""

    params_note: ClassVar[str] = ""
    """Appended to the list of allowed keys in errors (e.g. "and any LightGBM parameter")."""

    def __init__(self, **params: Any) -> None:
        if self.param_types is not None:
            check_params(self.name, self.param_types, params, self.accepts_param,
                         self.params_note)
        self.params: dict[str, Any] = {**self.default_params(), **params}
        self.schema: Schema | None = None
        self.learning_curve: list[float] = []
        self.learning_curve_metric: str = ""
        # wall seconds and training rows of the fit, where known (presets time their fits):
        # they budget a refit
        self.fit_seconds: float | None = None
        self.rows_fitted: int = 0
        # what a refit adds to the manifest's refit record (an ensemble: members refitted/kept)
        self.refit_report: dict[str, Any] = {}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def accepts_param(cls, key: str) -> bool:
        """Whether an undeclared key is still a parameter (one the family hands to a library
        that checks it itself); False by default."""
        return False

    @abstractmethod
    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self: ...

    @abstractmethod
    def predict_raw(self, X: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, schema: Schema) -> Self: ...

    def feature_importance(self) -> dict[str, float]:
        """Importance per input column (gain share, summing to 1) where the family knows it."""
        return {}

    @property
    def embeds(self) -> bool:
        """Whether `embed` gives a vector per row (the text family's sentence embeddings)."""
        return False

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        from lathe.errors import UsageError

        raise UsageError(f"the {self.name} family does not embed its inputs")

    def predict_and_embed(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """predict_raw and, where the family embeds, the embeddings (one pass if it can)."""
        return self.predict_raw(X), self.embed(X) if self.embeds else None

    # ---- capabilities (see the class docstring) -------------------------------------------
    @property
    def has_tree_contributions(self) -> bool:
        """Whether `tree_contributions` gives exact per-feature contributions (TreeSHAP)."""
        return False

    def tree_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(values (n, k, columns), base (n, k), columns): exact contributions per input
        column in the model's raw units, k = 1 for binary and regression, else one per class;
        values + base sum to the raw output."""
        from lathe.errors import UsageError

        raise UsageError(f"the tree explainer needs a gbm model, not {self.name}",
                         hint="use method='auto' or 'sampling'")

    def matrix_path(self) -> MatrixPath | None:
        """The fast path for numeric rows (`MatrixPath`), or None where the family has none."""
        return None

    def net_view(self, structured: bool = False) -> Any:
        """The torch network as pruning sees it (`lathe.models.prunable.NetView`)."""
        from lathe.errors import UsageError

        raise UsageError(f"pruning torch weights applies to mlp and text models; this one is "
                         f"{self.name!r}", hint="try --method distill")

    def tree_count(self) -> int:
        """How many trees the fitted model holds (`prune_unit` "trees")."""
        raise NotImplementedError(f"the {self.name} family has no trees")

    def use_trees(self, count: int) -> None:
        """Predict (and save) with the first `count` trees only; 0 means all."""
        raise NotImplementedError(f"the {self.name} family has no trees")

    def catch_all_index(self) -> int | None:
        """The class index this model routes rows no other class explains to (a catch-all
        wrapper's label), else None; scoring adds `catch_all` metrics for it."""
        return None

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> ModelFamily | None:
        """A new model fitted on all of `data` (no validation split) with what this fit
        settled on; None when the family cannot, and the caller keeps this model.

        lathe calls it once the held-out test split has been scored, so that the model it
        saves has learned from every labelled row (`train.refit`). `data.time_budget_s`
        bounds it; a refit the budget would cut short returns None rather than a worse model.
        """
        return None

    def refit_seconds(self, rows: int) -> float | None:
        """About how long `refit` on `rows` rows takes, from the timed first fit; None when
        unknown. Cost grows with rows; the refit skips early stopping's extra rounds and the
        validation passes, which the 1.1 leaves room for."""
        if self.fit_seconds is None:
            return None
        ratio = rows / self.rows_fitted if self.rows_fitted else 1.25
        return self.fit_seconds * ratio * 1.1

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Hyperparameters for one Optuna trial."""
        return {}

    def describe(self) -> dict[str, Any]:
        return {"family": self.name, "params": self.params}


FAMILIES: Registry[type[ModelFamily]] = Registry("model family", package="lathe.models")


def full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's predict_proba has a column per class it saw in training; lathe's
    predict_raw has one per class of the schema. Classes never seen get probability 0.

    >>> full_proba(np.array([[0.3, 0.7]]), np.array([0, 2]), 3).tolist()
    [[0.3, 0.0, 0.7]]
    """
    if proba.shape[1] == n_classes:
        return proba
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(seen).astype(int)] = proba
    return full


def weighted_importance(members: Sequence[ModelFamily],
                        weights: Sequence[float]) -> dict[str, float]:
    """Feature importance of a weighted average of models, largest first."""
    out: dict[str, float] = {}
    for member, weight in zip(members, weights, strict=True):
        for name, value in member.feature_importance().items():
            out[name] = out.get(name, 0.0) + weight * value
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def timed_fit(model: ModelFamily, data: FitData, callbacks: Sequence[Callback] = ()) -> ModelFamily:
    """model.fit(data), recording the seconds and rows it took (a refit is budgeted by
    them: `ModelFamily.refit_seconds`)."""
    started = time.monotonic()
    model.fit(data, callbacks)
    model.fit_seconds = time.monotonic() - started
    model.rows_fitted = model.rows_fitted or len(data.X_train)
    return model
