"""`prune`: fewer trees for GBMs; magnitude (L1, unstructured) pruning for the torch families.

GBM: boosting adds trees in order of usefulness, so the smallest *prefix* of trees whose
primary metric on the fit rows stays within `tolerance` of the full model is kept (or, with
`--sparsity F`, exactly the first (1-F) of the trees). The saved model holds only those trees,
so it is smaller on disk and faster per row.

Torch (`mlp`, `text`): the fraction `sparsity` of smallest-magnitude weights of every Linear
layer is set to zero (torch.nn.utils.prune, global over the layers), then made permanent. The
dense checkpoint keeps its size on disk: this trades quality for sparsity that sparse
runtimes can exploit, and the table shows exactly what it cost.

>>> Prune.tolerance
0.005
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.compression._base import COMPRESSORS, CompressionJob, Compressor, child_manifest
from lathe.data.infer import encode_labels
from lathe.errors import UsageError
from lathe.evaluation.metrics import compute_metrics, higher_is_better, primary_metric

if TYPE_CHECKING:
    from lathe.api import Model

__all__ = ["Prune", "tree_prefix", "magnitude_prune"]


def _copy_family(family: Any) -> Any:
    """An independent copy of a fitted family (through its own save/load: always faithful)."""
    with tempfile.TemporaryDirectory(prefix="lathe-prune-") as tmp:
        family.save(Path(tmp) / "model")
        return type(family).load(Path(tmp) / "model", family.schema)


def tree_prefix(family: Any, X: Any, y: np.ndarray | None, *, tolerance: float,
                sparsity: float | None) -> tuple[int, int, list[dict[str, float]]]:
    """(trees to keep, trees in the parent, [{trees, metric...}] tried) for a GBM family.

    A prefix qualifies when the primary metric and, for classifiers, accuracy (the labels
    users see: a ranking metric alone lets probabilities drift across the 0.5 threshold)
    are both within `tolerance` of the full model.
    """
    total = int(family.booster.current_iteration())
    if sparsity is not None:
        return max(1, round(total * (1.0 - sparsity))), total, []
    if y is None:
        raise UsageError("choosing trees needs labelled rows", hint="pass --data FILE")
    task = family.schema.task or "regression"
    watched = [primary_metric(task)] + (["accuracy"] if task != "regression" else [])
    watched = list(dict.fromkeys(watched))
    classes = family.schema.classes

    def score(k: int) -> dict[str, float]:
        family.best_iteration = k
        try:
            metrics = compute_metrics(task, y, family.predict_raw(X), classes)
        finally:
            family.best_iteration = 0
        return {m: float(metrics[m]) for m in watched}

    full = score(total)
    grid = sorted({max(1, int(total * f)) for f in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                                   0.6, 0.7, 0.8, 0.9)} | {total})
    tried = []
    for k in grid:  # smallest first: the first within tolerance wins
        values = score(k)
        tried.append({"trees": k, **values})
        if all(values[m] >= full[m] - tolerance if higher_is_better(m) else
               values[m] <= full[m] + tolerance for m in watched):
            return k, total, tried
    return total, total, tried


def magnitude_prune(family: Any, sparsity: float) -> int:
    """Zero the `sparsity` share of smallest |weights| over all Linear layers; returns count."""
    import torch
    from torch.nn.utils import prune

    root = family.net if family.name == "text" else family.module
    layers = [(m, "weight") for m in root.modules() if isinstance(m, torch.nn.Linear)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=sparsity)
    zeros = 0
    for module, name in layers:
        prune.remove(module, name)
        zeros += int((getattr(module, name) == 0).sum())
    return zeros


@COMPRESSORS.register("prune")
class Prune(Compressor):
    method = "prune"
    tolerance = 0.005  # primary metric, absolute (AUC / accuracy points / rmse units)
    torch_sparsity = 0.3

    def compress(self, parent: Model, job: CompressionJob) -> Model:
        from lathe.api import Model

        name = parent.family.name
        if job.sparsity is not None and not 0.0 <= job.sparsity < 1.0:
            raise UsageError(f"--sparsity must be in [0, 1), got {job.sparsity}",
                             hint="e.g. --sparsity 0.5 keeps half")
        if name == "gbm":
            family = self._prune_trees(parent, job)
        elif name in ("mlp", "text"):
            family = _copy_family(parent.family)
            family._onnx = None  # predict (and re-export on save) from the pruned weights
            sparsity = self.torch_sparsity if job.sparsity is None else job.sparsity
            zeros = magnitude_prune(family, sparsity)
            job.settings.update(kind="magnitude-unstructured", layers="all Linear",
                                sparsity=sparsity, zero_weights=zeros, recovery_fine_tune=False)
        else:
            raise UsageError(f"prune supports gbm, mlp and text models; this one is {name!r}",
                             hint="try --method distill")
        return Model(family, parent.schema, child_manifest(parent, family))

    def _prune_trees(self, parent: Model, job: CompressionJob) -> Any:
        family = _copy_family(parent.family)
        if job.fit_frame is None or not len(job.fit_frame):
            if job.sparsity is None:
                raise UsageError("tree pruning chooses the trees on labelled data",
                                 hint="pass --data FILE (or --sparsity F to keep 1-F of trees)")
            X = y = None
        else:
            X, _ = parent.schema.conform(job.fit_frame, source="fit data")
            y = encode_labels(job.fit_frame[parent.schema.target], parent.schema)
        keep, total, tried = tree_prefix(family, X, y, tolerance=self.tolerance,
                                         sparsity=job.sparsity)
        family.best_iteration = keep
        job.settings.update(kind="tree-prefix", trees_kept=keep, trees_parent=total,
                            tolerance=None if job.sparsity is not None else self.tolerance,
                            sparsity=job.sparsity, tried=tried)
        return family
