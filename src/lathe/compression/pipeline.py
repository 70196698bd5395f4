"""`compress`: parent -> smaller child artifact, both measured on the same held-out rows.

The labelled data (`data`, or the parent's own training file when it still exists) is split
once, deterministically: `eval_size` of the rows are reserved for the parent-vs-child table
and never shown to the compressor; the rest may be used to choose trees or train a student.
The child's manifest records `lineage.parent` (the parent's artifact sha256 and reference)
and `compression` (method, settings, evaluation rows, agreement, table).

`compress` returns a CompressionResult: a dict (the report, and `artifact`, the child's
path once saved) whose `.save(out)` writes the child; measured in a staging directory first,
so the table describes the artifact exactly as it will be served.

>>> from lathe.compression import compress  # doctest: +SKIP
>>> result = compress("models/churn", "prune", data="train.csv")  # doctest: +SKIP
>>> result["table"]["size_bytes"]["ratio"] < 1  # doctest: +SKIP
True
>>> result.save("models/churn-pruned")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from lathe.compression._base import CompressionJob, get_compressor
from lathe.compression.measure import agreement, comparison_table, measure
from lathe.errors import DataError, UsageError

__all__ = ["compress", "CompressionResult"]


def _eval_data(parent: Any, data: str | os.PathLike[str] | pd.DataFrame | None
               ) -> tuple[pd.DataFrame, str]:
    from lathe.data.load import read_table

    if isinstance(data, pd.DataFrame):
        return data, "DataFrame"
    if data is None:
        source = (parent.manifest.get("lineage") or {}).get("dataset")
        if not source or not Path(source).is_file():
            raise UsageError("compress needs labelled data to measure parent and child on",
                             hint="pass --data FILE (the training data, or any labelled sample)")
        data = source
    return read_table(data), str(data)


def _seen_rows(parent: Any, fit_frame: pd.DataFrame) -> Any:
    """The child learned from the parent (so from its rows) and from the fit rows."""
    import numpy as np

    from lathe.data.overlap import row_hashes

    known = parent.training_rows
    if not len(fit_frame):
        return known
    X, _ = parent.schema.conform(fit_frame, source="compression fit rows")
    fit = row_hashes(X)
    return fit if known is None else np.union1d(known, fit)


def _overlap(parent: Any, eval_frame: pd.DataFrame) -> dict[str, Any]:
    X, _ = parent.schema.conform(eval_frame, source="compression evaluation rows")
    return parent.training_overlap(X)


def _positive_class(model: Any) -> str | None:
    index = model.schema.positive_index
    return None if index is None else str((model.classes or [])[index])


def _split(frame: pd.DataFrame, parent: Any, eval_size: float, seed: int,
           source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from lathe.data.split import split_frame

    target = parent.schema.target
    if target not in frame.columns:
        raise DataError(f"{source} has no label column {target!r}",
                        hint=f"pass data with the {target!r} column", column=target)
    frame = frame[frame[target].notna()]
    if len(frame) < 20:
        raise DataError(f"{source}: only {len(frame)} labelled rows; compress needs at least 20",
                        hint="pass more labelled rows with --data")
    if eval_size in (0.0, 1.0):  # everything on one side: no split to draw
        empty = frame.iloc[:0]
        fit, held = (frame, empty) if eval_size == 0.0 else (empty, frame)
    else:
        fit, _, held = split_frame(frame, target, valid_size=0.0, test_size=eval_size,
                                   seed=seed, stratify=parent.schema.is_classification)
    return fit.reset_index(drop=True), held.reset_index(drop=True)


class CompressionResult(dict[str, Any]):
    """The report (method, settings, evaluation, agreement, parent, child, table) as a dict,
    plus `artifact`: where the child is saved (None until `.save`). `model` is the child."""

    def __init__(self, model: Any, report: dict[str, Any], staging: Path,
                 parent_path: Path | None) -> None:
        super().__init__(artifact=None, **report)
        self.model = model
        self._parent_path = parent_path
        self._cleanup = weakref.finalize(self, shutil.rmtree, staging, True)

    def save(self, out: str | os.PathLike[str], *, force: bool = True) -> Path:
        """Write the child artifact to `out` (never over the parent; over another artifact
        only with `force`)."""
        from lathe.artifact import check_out
        from lathe.model import Model

        target = Path(out)
        if self._parent_path is not None and target.resolve() == self._parent_path.resolve():
            raise UsageError(f"out={target} is the parent artifact itself",
                             hint="choose another directory; the parent is never overwritten")
        check_out(target, force=force)
        self.model.manifest["name"] = target.name
        self.model.save(target)
        self.model = Model.load(target)
        self["artifact"] = str(target)
        self._cleanup()
        return target


def compress(
    model: str | os.PathLike[str] | Any,
    method: str,
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = True,
    data: str | os.PathLike[str] | pd.DataFrame | None = None,
    eval_data: str | os.PathLike[str] | pd.DataFrame | None = None,
    sparsity: float | None = None,
    student: str | None = None,
    scheme: str | None = None,
    kind: str | None = None,
    recover: bool = True,
    eval_size: float = 0.2,
    seed: int = 0,
    timing_calls: tuple[int, int] = (50, 10),
) -> CompressionResult:
    """Compress `model` with `method` (int8, prune, distill); saved to `out` when given.

    The result is the manifest's `compression` section plus `artifact` (the child's path).
    With `eval_data`, all of `data` may fit the child and `eval_data` alone is measured.
    `kind` (prune, torch models): "structured" or "magnitude"; `recover=False` skips the
    recovery fine-tune after pruning.
    `timing_calls` = (single-row calls, 64-row calls) timed per model for the latency rows.
    """
    from lathe.artifact import artifact_sha256
    from lathe.model import Model
    from lathe.registry.refs import load_model
    from lathe.security.signing import parent_signature

    compressor = get_compressor(method)  # unknown methods fail before any work
    parent = model if isinstance(model, Model) else load_model(model)
    parent_path = None if parent.path is None else Path(parent.path)
    if out is not None and parent_path is not None and \
            Path(out).resolve() == parent_path.resolve():
        raise UsageError(f"out={out} is the parent artifact itself",
                         hint="choose another directory; the parent is never overwritten")
    frame, source = _eval_data(parent, data)
    if eval_data is None:
        fit_frame, eval_frame = _split(frame, parent, eval_size, seed, source)
    else:
        held, source = _eval_data(parent, eval_data)
        fit_frame, _ = _split(frame, parent, 0.0, seed, source)
        _, eval_frame = _split(held, parent, 1.0, seed, source)
    job = CompressionJob(fit_frame, eval_frame, sparsity=sparsity, student=student,
                         scheme=scheme, kind=kind, recover=recover, seed=seed)
    from lathe.footprint import FootprintTracker

    tracker = FootprintTracker().start()
    try:
        child = compressor.compress(parent, job)
    except BaseException:
        tracker.cancel()
        raise
    child.manifest["footprint"] = tracker.stop()  # the compression run itself
    lineage = dict(parent.manifest.get("lineage") or {})
    lineage["parent"] = {
        "sha256": artifact_sha256(parent.path) if parent.path is not None else None,
        "ref": str(model) if not isinstance(model, Model) else str(parent.path),
        "path": str(parent.path) if parent.path is not None else None,
        "family": parent.family.name,
        # the child is signed by whoever made it; the parent's signature stays on record
        "signature": parent_signature(parent.manifest),
    }
    child.manifest["lineage"] = lineage
    child.training_rows = _seen_rows(parent, fit_frame)
    near = None if out is None else Path(out).resolve().parent  # same disk: no copy later
    staging = Path(tempfile.mkdtemp(prefix=".lathe-compress-",
                                    dir=near if near is not None and near.is_dir() else None))
    try:
        child.save(staging / "child")
        loaded = Model.load(staging / "child")  # the table describes the artifact as served
        ones, batches = timing_calls
        parent_row = measure(parent, eval_frame, calls_batch1=ones, calls_batch64=batches)
        child_row = measure(loaded, eval_frame, calls_batch1=ones, calls_batch64=batches)
        report = {
            "method": method,
            "settings": job.settings,
            "evaluation": {"source": source, "rows": len(eval_frame),
                           "fit_rows": len(fit_frame), "eval_size": eval_size, "seed": seed,
                           # binary: the class the table's plain precision/recall/f1 describe
                           "positive_class": _positive_class(parent),
                           # measured on rows the parent trained on? then the table flatters it
                           "training_overlap": _overlap(parent, eval_frame)},
            "agreement": agreement(parent_row.pop("_raw"), child_row.pop("_raw")),
            "parent": {"family": parent_row["family"], "path": lineage["parent"]["path"]},
            "child": {"family": child_row["family"]},
            "table": comparison_table(parent_row, child_row),
        }
        quality = {k: v for k, v in child_row.items() if k not in ("family",)}
        loaded.manifest["compression"] = report
        loaded.manifest["metrics"] = {"test": {**quality, "split": "compression evaluation rows"}}
        loaded.save(staging / "child")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result = CompressionResult(loaded, report, staging, parent_path)
    if out is not None:
        result.save(out, force=force)
    return result
