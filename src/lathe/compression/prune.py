"""`prune`: fewer trees for GBMs; structured or magnitude pruning, then a short recovery
fine-tune, for the torch families (`mlp`, `text`).

GBM: boosting adds trees in order of usefulness, so the smallest *prefix* of trees whose
primary metric on the fit rows stays within `tolerance` of the full model is kept (or, with
`--sparsity F`, exactly the first (1-F) of the trees). The saved model holds only those trees,
so it is smaller on disk and faster per row.

Torch, `--kind structured` (the default for both families): the `sparsity` share of units is
removed for real — an mlp's hidden neurons (rows of their Linear, columns of the next, any
norm layer between), a text encoder's attention heads and, separately, the same share of its
FFN neurons. Units are ranked by a first-order Taylor score on the fit rows (see
`_importance`); the child has fewer parameters, a smaller file and faster predictions.

Torch, `--kind magnitude`: the `sparsity` share of smallest |weights| over every Linear
layer is zeroed (global L1). The dense checkpoint keeps its size and speed: it only pays
where a sparse runtime exploits the zeros, which none here does.

Both kinds then recover (unless `job.recover` is off): a few epochs of the shared training
loop on the fit rows, towards the parent's soft predictions and the labels, early-stopped on
a validation part of the fit rows (see `_recovery`). The magnitude masks stay on during
recovery, so pruned weights stay zero.

>>> Prune.tolerance, KINDS
(0.005, ('magnitude', 'structured'))
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.compression._base import (
    COMPRESSORS,
    CompressionJob,
    Compressor,
    child_manifest,
    fit_split,
)
from lathe.data.infer import encode_labels
from lathe.errors import UsageError
from lathe.evaluation.metrics import compute_metrics, higher_is_better, primary_metric

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["Prune", "KINDS", "tree_prefix", "magnitude_prune", "magnitude_masks", "remove_masks"]

KINDS = ("magnitude", "structured")
IMPORTANCE = "first-order Taylor: mean |dLoss/dmask| per unit on fit rows (Michel et al. 2019)"


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
    total = family.tree_count()
    if sparsity is not None:
        return max(1, round(total * (1.0 - sparsity))), total, []
    if y is None:
        raise UsageError("choosing trees needs labelled rows", hint="pass --data FILE")
    task = family.schema.task or "regression"
    watched = [primary_metric(task)] + (["accuracy"] if task != "regression" else [])
    watched = list(dict.fromkeys(watched))
    classes = family.schema.classes

    def score(k: int) -> dict[str, float]:
        family.use_trees(k)
        try:
            metrics = compute_metrics(task, y, family.predict_raw(X), classes,
                                      positive=family.schema.positive_index)
        finally:
            family.use_trees(0)
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


def magnitude_masks(root: Any, sparsity: float) -> list[tuple[Any, str]]:
    """Mask the `sparsity` share of smallest |weights| over all Linear layers of `root`
    (global L1). The masks stay attached (weight = weight_orig * mask), so a recovery
    fine-tune cannot regrow pruned weights; `remove_masks` makes them permanent."""
    import torch
    from torch.nn.utils import prune

    layers = [(m, "weight") for m in root.modules() if isinstance(m, torch.nn.Linear)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=sparsity)
    return layers


def remove_masks(layers: list[tuple[Any, str]]) -> int:
    """Fold the masks into the weights; returns the number of zero weights."""
    from torch.nn.utils import prune

    zeros = 0
    for module, name in layers:
        prune.remove(module, name)
        zeros += int((getattr(module, name) == 0).sum())
    return zeros


def magnitude_prune(family: Any, sparsity: float) -> int:
    """Zero the `sparsity` share of smallest |weights| over all Linear layers; returns count."""
    return remove_masks(magnitude_masks(family.net_view().module, sparsity))


@COMPRESSORS.register("prune")
class Prune(Compressor):
    method = "prune"
    tolerance = 0.005  # primary metric, absolute (AUC / accuracy points / rmse units)
    # structured by default for both torch families: it is the kind that makes the artifact
    # smaller and faster (magnitude zeros keep the dense size and speed: 1.0x / 1.0x in
    # bench/compression.py, as no runtime here exploits sparsity)
    default_kind = {"mlp": "structured", "text": "structured"}
    # Adult mlp (256+128 hidden): half its hidden neurons go at no measurable cost after
    # recovery (AUC +0.002; 80 % still within 0.001); the 6-layer MiniLM has less to spare
    default_sparsity = {"magnitude": {"mlp": 0.3, "text": 0.3},
                        "structured": {"mlp": 0.5, "text": 0.3}}
    importance_rows = {"mlp": 4096, "text": 512}  # rows the unit scores average over
    importance_batch = {"mlp": 512, "text": 32}
    # stated bounds (tests and the benchmark check them): the most quality may drop vs the
    # parent at the default sparsity, after recovery
    max_drop = {"roc_auc": 0.01, "accuracy": 0.02, "accuracy_small_sample": 0.05}

    def compress(self, parent: Model, job: CompressionJob) -> Model:
        from lathe.model import Model

        name = parent.family.name
        if job.sparsity is not None and not 0.0 <= job.sparsity < 1.0:
            raise UsageError(f"--sparsity must be in [0, 1), got {job.sparsity}",
                             hint="e.g. --sparsity 0.5 keeps half")
        if job.kind is not None and job.kind not in KINDS:
            raise UsageError(f"unknown prune kind {job.kind!r}; choose one of {list(KINDS)}",
                             hint="--kind structured removes neurons/heads (smaller, faster); "
                             "--kind magnitude zeroes weights (same size)")
        unit = parent.family.prune_unit
        if unit == "trees":
            if job.kind is not None:
                raise UsageError(f"--kind {job.kind} applies to torch models (mlp, text); "
                                 "gbm pruning always removes whole trees",
                                 hint="drop --kind (or pass --sparsity F to keep 1-F of trees)")
            family = self._prune_trees(parent, job)
        elif unit == "units":
            family = self._prune_torch(parent, job, job.kind or self.default_kind[name])
        else:
            raise UsageError(f"prune supports gbm, mlp and text models; this one is {name!r}",
                             hint="try --method distill")
        return Model(family, parent.schema, child_manifest(parent, family))

    def _prune_torch(self, parent: Model, job: CompressionJob, kind: str) -> Any:
        import torch

        from lathe.compression import _importance
        from lathe.compression._recovery import RECOVERY, fit_rows, recover, row_losses

        name, schema = parent.family.name, parent.schema
        structured = kind == "structured"
        parent.family.net_view(structured)  # a kind the model cannot do fails before copying
        family = _copy_family(parent.family)
        # predict (and re-export on save) from the pruned weights, not the parent's graph
        family.use_torch_runtime()
        view = family.net_view(structured)
        sparsity = self.default_sparsity[kind][name] if job.sparsity is None else job.sparsity
        task = schema.task or "regression"
        config = RECOVERY[name]
        job.settings.update(kind=kind, sparsity=sparsity)
        rows = None
        if structured or job.recover:
            if job.fit_frame is None or len(job.fit_frame) < 10:
                raise UsageError(f"{kind} pruning of a {name} model needs labelled fit rows "
                                 "(to score units and to recover)",
                                 hint="pass --data FILE (or --kind magnitude --no-recover)")
            train, valid = fit_split(job.fit_frame, str(schema.target),
                                     schema.is_classification, seed=job.seed)
            X, _ = schema.conform(train, source="fit data")
            Xv, _ = schema.conform(valid, source="fit data")
            family.use_torch_runtime(timing_rows=Xv.head(256))  # predict_with auto times on them
            y = encode_labels(train[schema.target], schema)
            yv = encode_labels(valid[schema.target], schema)
            parent_raw = parent.family.predict_raw(X)
            rows = (fit_rows(view, X, y, parent_raw, task), fit_rows(view, Xv, yv, None, task))
        before = view.n_parameters()
        masks: list[Any] = []
        if structured:
            assert rows is not None
            loss = row_losses(torch, task, temperature=config.temperature, alpha=config.alpha)
            n_in = len(rows[0].inputs)
            sites = view.sites()
            scores = _importance.unit_scores(
                view.module, sites,
                rows[0].batches(self.importance_batch[name], self.importance_rows[name]),
                lambda m, b: loss(view.forward(m, b[:n_in]), b[n_in], b[n_in + 1]))
            keep: list[list[int]] = [[] for _ in sites]
            for unit_kind in dict.fromkeys(s.kind for s in sites):  # heads, neurons: each share
                which = [i for i, s in enumerate(sites) if s.kind == unit_kind]
                for i, kept in zip(which, _importance.select_units([scores[i] for i in which], sparsity),
                                   strict=True):
                    keep[i] = kept
            job.settings.update(view.shrink(keep), importance=IMPORTANCE,
                                importance_rows=min(len(rows[0]), self.importance_rows[name]))
        else:
            masks = magnitude_masks(view.module, sparsity)
        recovery = recover(view, *rows, task, config, job.seed) if job.recover and rows else None
        if masks:
            job.settings.update(zero_weights=remove_masks(masks), layers="all Linear")
        after = view.n_parameters()
        job.settings.update(parameters_parent=before, parameters=after,
                            parameters_ratio=round(after / before, 4),
                            recovery_fine_tune=recovery is not None,
                            recovery=recovery or {"epochs": 0, "seconds": 0.0})
        return family

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
        family.use_trees(keep)
        job.settings.update(kind="tree-prefix", trees_kept=keep, trees_parent=total,
                            tolerance=None if job.sparsity is not None else self.tolerance,
                            sparsity=job.sparsity, tried=tried)
        return family
