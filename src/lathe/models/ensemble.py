"""`ensemble`: a weighted average of member models (bagged folds or different families).

Members are fitted by the caller (see `lathe.training.presets`) and saved in numbered
sub-directories, so an ensemble is itself an ordinary family to load and predict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.models._base import FAMILIES, Callback, FitData, ModelFamily, weighted_importance

__all__ = ["Ensemble", "refit_members", "with_refitted_members"]


def _member_data(data: FitData, index: int, remaining: float | None) -> FitData:
    """What member `index` refits on: its own seed, budget and checkpoint sub-directory."""
    extra = dict(data.extra)
    if extra.get("checkpoint_dir"):
        extra["checkpoint_dir"] = str(Path(extra["checkpoint_dir"]) / f"member-{index}")
    return replace(data, seed=data.seed + index, time_budget_s=remaining, extra=extra)


def refit_members(members: Sequence[ModelFamily], data: FitData,
                  callbacks: Sequence[Callback] = ()) -> tuple[list[ModelFamily], dict[str, int]]:
    """Each member refitted on all of `data`, in order, within its time budget. Member i gets
    seed + i, so the members of a bag (same parameters, now the same rows) stay different,
    and its own checkpoint sub-directory. A member whose refit the remaining budget would not
    cover (`ModelFamily.refit_seconds`) is kept as fitted, and so is one that cannot refit."""
    started = time.monotonic()
    budget = data.time_budget_s
    rows = len(data.X_train)
    out: list[ModelFamily] = []
    for i, member in enumerate(members):
        remaining = None if budget is None else budget - (time.monotonic() - started)
        estimate = member.refit_seconds(rows)
        refitted = None
        if remaining is None or estimate is None or estimate < remaining:
            refitted = member.refit(_member_data(data, i, remaining), callbacks)
        out.append(refitted if refitted is not None else member)
    kept = sum(new is old for new, old in zip(out, members, strict=True))
    return out, {"members_refitted": len(out) - kept, "members_kept": kept}


def with_refitted_members(model: Any, data: FitData, callbacks: Sequence[Callback],
                          make: Callable[[list[ModelFamily]], ModelFamily]) -> Any:
    """The refit of a model made of members (ensemble, voting, stacking): `make(members)`
    builds the new model around the refitted members and keeps what the first fit chose
    (weights, a meta learner); schema, learning curve and the refit report are carried here.
    None when no member was refitted."""
    members, report = refit_members(model.members, data, callbacks)
    if not report["members_refitted"]:
        return None
    new = make(members)
    new.schema = model.schema
    new.learning_curve, new.learning_curve_metric = (model.learning_curve,
                                                     model.learning_curve_metric)
    new.refit_report = report
    return new


@FAMILIES.register("ensemble")
class Ensemble(ModelFamily):
    name = "ensemble"
    # members and weights are arguments, not parameters
    param_types: ClassVar[Mapping[str, Any] | None] = {}

    def __init__(
        self, members: Sequence[ModelFamily] = (), weights: Sequence[float] = (), **params: Any
    ) -> None:
        super().__init__(**params)
        self.members = list(members)
        w = np.asarray(weights if len(weights) else [1.0] * len(self.members), dtype=float)
        self.weights = (w / w.sum()).tolist() if len(w) else []

    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        self.schema = data.schema
        for member in self.members:
            member.fit(data, callbacks)
        return self

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Ensemble | None:
        """Every member refitted on all rows (`refit_members`), the weights kept; None when
        no member was refitted. `refit_report` on the result counts both kinds."""
        refitted: Ensemble | None = with_refitted_members(
            self, data, callbacks, lambda members: Ensemble(members, self.weights))
        return refitted

    def refit_seconds(self, rows: int) -> float | None:
        return None  # each member's refit is budgeted on its own (refit_members)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        total: np.ndarray | None = None
        for member, weight in zip(self.members, self.weights, strict=True):
            part = weight * member.predict_raw(X)
            total = part if total is None else total + part
        assert total is not None
        return total

    @property
    def embeds(self) -> bool:
        return any(m.embeds for m in self.members)

    def _embedder(self) -> ModelFamily:
        return next(m for m in self.members if m.embeds)

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        if not self.embeds:
            return super().embed(X)
        return self._embedder().embed(X)

    def predict_and_embed(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """The blend and its text member's embeddings, with one encoder pass."""
        embedder = self._embedder() if self.embeds else None
        total, embeddings = None, None
        for member, weight in zip(self.members, self.weights, strict=True):
            if member is embedder:
                part, embeddings = member.predict_and_embed(X)
            else:
                part = member.predict_raw(X)
            total = weight * part if total is None else total + weight * part
        assert total is not None
        return total, embeddings

    def feature_importance(self) -> dict[str, float]:
        return weighted_importance(self.members, self.weights)

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "weights": self.weights,
            "members": [m.describe() for m in self.members],
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for i, member in enumerate(self.members):
            member.save(directory / f"member_{i:02d}")
        (directory / "ensemble.json").write_text(
            json.dumps(
                {
                    "weights": self.weights,
                    "families": [m.name for m in self.members],
                    "learning_curve": self.learning_curve,
                    "learning_curve_metric": self.learning_curve_metric,
                }
            )
        )

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        from lathe.models import get_family

        meta = json.loads((directory / "ensemble.json").read_text())
        members = [
            get_family(name).load(directory / f"member_{i:02d}", schema)
            for i, name in enumerate(meta["families"])
        ]
        model = cls(members, meta["weights"])
        model.schema = schema
        model.learning_curve = meta.get("learning_curve", [])
        model.learning_curve_metric = meta.get("learning_curve_metric", "")
        return model
