"""Which units (hidden neurons, attention heads, FFN neurons) a network can best do without.

Score: the first-order estimate of how much the loss changes when a unit is removed. A mask
m_u = 1 multiplies the unit's input columns to its site's Linear; |dL/dm_u| for one row is
the Taylor estimate of the loss change from setting m_u = 0 for that row. Averaged over rows
this is Michel et al. (2019) head importance, and, for single neurons, the Taylor criterion
of Molchanov et al. (2017/2019). One backward pass per batch gives every row's gradient
(the mask has one entry per row), so no per-example loop is needed.

Why this and not weight norms: the loss gradient sees what the weights do on the real rows —
a neuron with large weights that is rarely active, or whose inputs are on a small scale (the
mlp's embeddings and standardised numerics differ), scores low here and high by norm.

Selection: scores are L2-normalised per site (Michel et al.: layers differ in scale), ranked
over all sites of one kind, and the lowest `share` removed, always keeping `min_keep` per
site so no layer is emptied.

>>> import numpy as np
>>> select_units([np.array([3.0, 0.1, 2.0]), np.array([1.0, 1.0])], share=0.2)
[[0, 2], [0, 1]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from lathe.models.prunable import Site

__all__ = ["unit_scores", "select_units"]


def unit_scores(module: Any, sites: Sequence[Site], batches: Iterable[Sequence[Any]],
                row_losses: Callable[[Any, Sequence[Any]], Any]) -> list[np.ndarray]:
    """Mean |dL/dm_u| over the rows of `batches`, per unit of each site.

    `row_losses(module, batch)` returns one loss per row (not averaged: each row's gradient
    must be its own). The module's weights are not changed; their gradients are discarded.
    """
    import torch

    totals = [torch.zeros(site.units, dtype=torch.float64) for site in sites]
    masks: list[list[Any]] = [[] for _ in sites]
    handles = []

    def hook(i: int, site: Site) -> Callable[..., Any]:
        def apply(layer: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            x = args[0]
            mask = torch.ones(x.shape[0], site.units, requires_grad=True)
            masks[i].append(mask)
            scale = mask.repeat_interleave(site.group, dim=1).to(x.dtype)
            shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
            return (x * scale.reshape(shape), *args[1:])
        return apply

    for i, site in enumerate(sites):
        handles.append(site.layer.register_forward_pre_hook(hook(i, site)))
    was_training = module.training
    module.eval()  # dropout off: score the network as it predicts
    rows = 0
    try:
        for batch in batches:
            for m in masks:
                m.clear()
            loss = row_losses(module, batch).float().sum()
            used = [m for ms in masks for m in ms]
            grads = torch.autograd.grad(loss, used, allow_unused=True)
            it = iter(grads)
            for i, ms in enumerate(masks):
                for _ in ms:
                    g = next(it)
                    if g is not None:
                        totals[i] += g.detach().abs().sum(dim=0).double()
            rows += len(batch[0])
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return [(t / max(1, rows)).numpy() for t in totals]


def select_units(scores: Sequence[np.ndarray], share: float, min_keep: int = 1
                 ) -> list[list[int]]:
    """Indices to keep per site after removing the lowest `share` of all units (see above)."""
    normalised = [s / (np.linalg.norm(s) or 1.0) for s in scores]
    total = sum(len(s) for s in scores)
    target = int(round(share * total))
    order = sorted((float(v), i, u) for i, s in enumerate(normalised) for u, v in enumerate(s))
    left = [len(s) for s in scores]
    removed: list[set[int]] = [set() for _ in scores]
    for _, i, u in order:
        if target <= 0:
            break
        if left[i] > min_keep:
            removed[i].add(u)
            left[i] -= 1
            target -= 1
    return [[u for u in range(len(s)) if u not in removed[i]] for i, s in enumerate(scores)]
