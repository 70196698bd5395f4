"""The manifest: what an artifact says about its model, built in one place, typed and versioned.

`lathe train` (training/run.py) and `lathe tune` (tuning/search.py) both call
`build_manifest`; `lathe.artifact.read_manifest` checks every manifest it reads against
`Manifest`, so a field of the wrong type is refused with its name instead of failing later.
The JSON on disk is `Manifest.to_dict()`; `format_version` (`FORMAT_VERSION`) is the version
of the whole artifact format and is written first by `lathe.artifact.write_artifact`.

Reading stays lenient: every field but `family` has a default, so manifests written before a
field existed (and children written by `lathe compress`, which carry their parent's fields)
still load. Fields that no manifest of this format has ever lacked are required by
`build_manifest`'s signature instead.

Optional sections (`reference_profile`, `tuning`, `compression`, `footprint`) are absent
from the JSON unless set. To add one, say `privacy`:

  1. add `privacy: dict[str, Any] | None = None` to `Manifest` (typed as precisely as you
     like; a default of None keeps old artifacts without it loading) and, if it should be
     left out when unset, "privacy" to `Manifest.SECTIONS`;
  2. pass it where the manifest is built: `build_manifest(..., sections={"privacy": {...}})`
     (training/run.py passes `reference_profile` this way, tuning/search.py `tuning`), or
     set it on the built dict before saving (`manifest["footprint"] = tracker.stop()`, as
     training, tuning and compression do once their run is over).

Unknown top-level keys are kept as they are (`extra="allow"`), so a newer lathe's section
does not stop an older one from reading the artifact.

>>> import numpy as np, pandas as pd
>>> from lathe.config import load_config
>>> from lathe.data.schema import Schema
>>> from lathe.models import FitData, get_family
>>> schema = Schema.from_dict({"target": "y", "task": "binary", "classes": ["a", "b"],
...                            "columns": [{"name": "x", "kind": "numeric"}]})
>>> X = pd.DataFrame({"x": np.arange(10.0)})
>>> family = get_family("linear")().fit(FitData(schema, X, (X.x > 4).to_numpy(int)))
>>> m = build_manifest(family, chosen_family="linear", schema=schema,
...                    config=load_config(None, data__target="y"), metrics={},
...                    primary_metric="roc_auc",
...                    lineage=Lineage(dataset="d.csv", dataset_hash="sha256:0",
...                                    rows={"train": 8, "valid": 1, "test": 1, "refit": None}),
...                    training=training_record(0.5, {"rows": None}),
...                    sections={"tuning": {"best_value": 0.9}})
>>> m["family"], m["primary_metric"], m["tuning"], "compression" in m
('linear', 'roc_auc', {'best_value': 0.9}, False)
>>> Manifest.check({"family": 3})
Traceback (most recent call last):
lathe.errors.IntegrityError: manifest field 'family': Input should be a valid string. Fix: ...
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lathe import __version__
from lathe.errors import IntegrityError

__all__ = ["FORMAT_VERSION", "Manifest", "Lineage", "LearningCurve", "TrainingRecord",
           "build_manifest", "training_record", "git_commit"]

FORMAT_VERSION = 1
"""The artifact format. A change that old readers cannot follow raises it, together with a
migration in `Manifest.check` that reads the older versions."""


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the working directory's git checkout, or None outside one."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class LearningCurve(_Part):
    """The validation metric per round or epoch of the fit that chose the model's length."""

    metric: str = ""
    values: list[float | None] = Field(default_factory=list)


class Lineage(_Part):
    """Where the model came from: data, its content hash, row counts, parent, commit."""

    dataset: str | None = None
    dataset_hash: str | None = None
    rows: dict[str, int | None] = Field(default_factory=dict)
    parent: dict[str, Any] | None = None
    git_commit: str | None = None


class TrainingRecord(_Part):
    """How the fit ran: seconds, the refit record, and the machine."""

    seconds: float | None = None
    refit: dict[str, Any] = Field(default_factory=dict)
    python: str | None = None
    machine: str | None = None
    cpu_count: int | None = None


class Manifest(_Part):
    """Every field of `manifest.json` that lathe writes; see the module docstring."""

    SECTIONS: ClassVar[tuple[str, ...]] = ("name", "reference_profile", "tuning", "compression")
    """Optional top-level sections: written only when set."""

    format_version: int = FORMAT_VERSION
    name: str | None = None  # what the registry and the server call it (Model.save: its dir)
    lathe_version: str | None = None
    family: str
    chosen_family: str | None = None
    task: str | None = None
    target: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    primary_metric: str | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)
    reference_profile: dict[str, Any] | None = None  # what `lathe monitor drift` compares to
    learning_curve: LearningCurve = Field(default_factory=LearningCurve)
    lineage: Lineage = Field(default_factory=Lineage)
    training: TrainingRecord | None = None
    tuning: dict[str, Any] | None = None
    compression: dict[str, Any] | None = None
    footprint: dict[str, Any] | None = None  # energy and carbon of the run (lathe.footprint)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (optional sections only when set)."""
        out = self.model_dump(mode="python")
        for name in self.SECTIONS:
            if out.get(name) is None:
                out.pop(name, None)
        return out

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> Manifest:
        """`data` (a manifest read from disk) as a Manifest; IntegrityError naming the first
        field of the wrong type."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise IntegrityError(f"manifest field {where!r}: {first['msg']}",
                                 hint="restore the artifact from its source, or retrain it",
                                 field=where) from None


def training_record(seconds: float, refit: Mapping[str, Any]) -> TrainingRecord:
    """How long the fit took, its refit record, and the machine it ran on."""
    return TrainingRecord(seconds=round(seconds, 3), refit=dict(refit),
                          python=platform.python_version(), machine=platform.machine(),
                          cpu_count=os.cpu_count())


def build_manifest(family: Any, *, chosen_family: str, schema: Any, config: Any,
                   metrics: Mapping[str, Any], primary_metric: str, lineage: Lineage,
                   training: TrainingRecord,
                   sections: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a freshly fitted `family` (a `ModelFamily`; before `Model.save` adds
    the schema and `write_artifact` the file table), trained on `schema` (a `Schema`) under
    `config` (a `LatheConfig`). `primary_metric` is `lathe.evaluation.metrics.primary_metric`
    of the task (passed in: this module sits below evaluation, beside the artifact format).
    `lineage.git_commit` is filled in when not given."""
    if lineage.git_commit is None:
        lineage = lineage.model_copy(update={"git_commit": git_commit()})
    manifest = Manifest(
        lathe_version=__version__,
        family=family.name,
        chosen_family=chosen_family,
        task=schema.task,
        target=schema.target,
        config=config.model_dump(mode="json"),
        model=family.describe(),
        metrics=dict(metrics),
        primary_metric=primary_metric,
        feature_importance=family.feature_importance(),
        learning_curve=LearningCurve(metric=family.learning_curve_metric,
                                     values=family.learning_curve),
        lineage=lineage,
        training=training,
        **dict(sections or {}),
    )
    out = manifest.to_dict()
    out.pop("format_version")  # the artifact writer puts it first
    return out
