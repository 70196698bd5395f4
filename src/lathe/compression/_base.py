"""The compression contract: a `Compressor` turns a parent model into a smaller child.

Rules for implementations (one module per method, registered by name in `COMPRESSORS`):
  * `compress(parent, job)` returns a new, unsaved `lathe.Model` (its own family object,
    schema and manifest copy); it must not mutate `parent` — the parent is measured next to
    the child afterwards, on the same rows.
  * It may fit on `job.fit_frame` (labelled rows the caller held out from evaluation) and must
    never look at `job.eval_frame`, which is reserved for the parent-vs-child table.
  * It records every setting it used in `job.settings` (the manifest stores them) and raises
    `UsageError` with a hint naming another method when it does not apply to the family.

>>> sorted(COMPRESSORS_MODULES)
['distill', 'int8', 'prune']
>>> get_compressor("int8").method
'int8'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from lathe.plugins import Registry

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["Compressor", "CompressionJob", "COMPRESSORS", "COMPRESSORS_MODULES", "get_compressor",
           "child_manifest"]


@dataclass
class CompressionJob:
    """What a compressor may use. `fit_frame` / `eval_frame` are raw labelled frames."""

    fit_frame: pd.DataFrame | None
    eval_frame: pd.DataFrame
    sparsity: float | None = None
    student: str | None = None
    scheme: str | None = None  # int8: auto, dynamic or weight-only
    kind: str | None = None  # prune (torch): magnitude or structured; None = the family default
    recover: bool = True  # prune (torch): fine-tune on the fit rows after pruning
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


class Compressor(ABC):
    method: ClassVar[str] = ""

    @abstractmethod
    def compress(self, parent: Model, job: CompressionJob) -> Model: ...


COMPRESSORS: Registry[type[Compressor]] = Registry("compression method",
                                                   package="lathe.compression")
COMPRESSORS_MODULES = {
    "int8": "lathe.compression.int8",
    "prune": "lathe.compression.prune",
    "distill": "lathe.compression.distill",
}


for _method, _module in COMPRESSORS_MODULES.items():
    COMPRESSORS.lazy(_method, _module)  # imported (and registered) on first use
del _method, _module


def get_compressor(method: str) -> Compressor:
    return COMPRESSORS.get(method)()


def child_manifest(parent: Model, family: Any) -> dict[str, Any]:
    """The parent's manifest, minus what no longer describes the child (files, metrics)."""
    keep = {k: v for k, v in parent.manifest.items()
            if k not in ("files", "format_version", "created_at", "metrics", "feature_importance",
                         "learning_curve")}
    keep["model"] = family.describe()
    keep["family"] = family.name
    keep["feature_importance"] = family.feature_importance()
    keep["metrics"] = {}
    return keep


def fit_split(frame: pd.DataFrame, target: str, classification: bool,
              seed: int = 0, valid_size: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, valid) from the compressor's fit rows: stratified and deterministic."""
    from lathe.data.split import split_frame

    train, valid, _ = split_frame(frame, target, valid_size=valid_size, test_size=0.0,
                                  seed=seed, stratify=classification)
    return train, valid
