"""`ensemble`: a weighted average of member models (bagged folds or different families).

Members are fitted by the caller (see `lathe.training.presets`) and saved in numbered
sub-directories, so an ensemble is itself an ordinary family to load and predict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from lathe.data.schema import Schema
from lathe.models._base import FAMILIES, Callback, FitData, ModelFamily, weighted_importance

__all__ = ["Ensemble", "REFIT_COST"]

# A refit sees ~1.25x the rows of the first fit but runs no early-stopping overshoot and no
# validation passes: budget it at 1.3x the first fit's time.
REFIT_COST = 1.3


@FAMILIES.register("ensemble")
class Ensemble(ModelFamily):
    name = "ensemble"

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
        """Every member refitted on all rows, the weights kept. Member i gets seed + i, so
        the members of a bag (same parameters, now the same rows) stay different. A member
        whose first fit took longer than the budget has left (times REFIT_COST) is kept as
        fitted, and so is one that cannot refit; None when no member was refitted."""
        started = time.monotonic()
        budget = data.time_budget_s
        members: list[ModelFamily] = []
        for i, member in enumerate(self.members):
            remaining = None if budget is None else budget - (time.monotonic() - started)
            refitted = None
            if remaining is None or (member.fit_seconds or 0.0) * REFIT_COST < remaining:
                refitted = member.refit(replace(data, seed=data.seed + i,
                                                time_budget_s=remaining), callbacks)
            members.append(refitted if refitted is not None else member)
        kept = sum(new is old for new, old in zip(members, self.members, strict=True))
        if kept == len(members):
            return None
        if kept and self.schema is not None:
            self.schema.notes.append(
                f"refit: {kept} of {len(members)} ensemble members kept as first fitted "
                "(their refit would not fit the time budget, or their family cannot refit)")
        model = Ensemble(members, self.weights)
        model.schema = self.schema
        model.learning_curve, model.learning_curve_metric = (self.learning_curve,
                                                             self.learning_curve_metric)
        return model

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
