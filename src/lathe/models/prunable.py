"""How pruning sees a torch family's network: its inputs as tensors, a forward that returns
raw outputs (logits, or the standardised value for regression), the units that structured
pruning can remove ("sites"), and the surgery that removes them.

A site is a Linear whose *input* columns fall into units: for an mlp, the hidden neurons
feeding the next Linear; for a BERT-style text encoder, the attention heads feeding each
layer's attention output projection (head_size columns per unit) and the FFN neurons
feeding each layer's output projection. Scoring puts a mask on exactly those columns, so a
unit's score is what the network loses when that unit is gone.

>>> import torch
>>> seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.GELU(),
...                           torch.nn.Linear(4, 2))
>>> shrink_sequential(seq, [[0, 3]])
[2]
>>> seq(torch.zeros(5, 3)).shape, seq[1].num_features
(torch.Size([5, 2]), 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import UsageError

__all__ = ["Site", "NetView", "net_view", "mlp_view", "text_view", "view_of", "shrink_sequential",
           "linear_positions"]


@dataclass
class Site:
    """`layer` (a Linear) takes `units` * `group` input columns; one unit = `group` columns."""

    layer: Any
    units: int
    group: int = 1
    kind: str = "neuron"  # "neuron" or "head"


def linear_positions(seq: Any) -> list[int]:
    import torch

    return [i for i, m in enumerate(seq) if isinstance(m, torch.nn.Linear)]


def shrink_sequential(seq: Any, keep: Sequence[Sequence[int]]) -> list[int]:
    """Keep, for each hidden Linear of `seq` (all but the last), the listed output neurons:
    its rows, any BatchNorm1d/LayerNorm after it, and the next Linear's columns. In place;
    returns the new hidden widths."""
    import torch

    from lathe.models._shrink import slice_linear, slice_norm

    positions = linear_positions(seq)
    if len(keep) != len(positions) - 1:
        raise ValueError(f"{len(positions) - 1} hidden layers, got {len(keep)} keep lists")
    widths = []
    for (here, there), kept in zip(zip(positions, positions[1:], strict=False), keep, strict=True):
        index = torch.as_tensor(sorted(kept), dtype=torch.long)
        seq[here] = slice_linear(seq[here], index, 0)
        for i in range(here + 1, there):
            if isinstance(seq[i], torch.nn.BatchNorm1d | torch.nn.LayerNorm):
                seq[i] = slice_norm(seq[i], index)
        seq[there] = slice_linear(seq[there], index, 1)
        widths.append(len(index))
    return widths


class NetView:
    """Base: a fitted torch family seen as one trainable module with tensor inputs."""

    name = ""

    def __init__(self, family: Any) -> None:
        self.family = family

    @property
    def module(self) -> Any:  # what is scored, shrunk and fine-tuned
        raise NotImplementedError

    def inputs(self, X: pd.DataFrame) -> list[Any]:
        import torch

        family = self.family
        features = family._features(X) if hasattr(family, "_features") else X
        return [torch.from_numpy(a) for a in family.prep.transform(features)]

    def forward(self, module: Any, batch: Sequence[Any]) -> Any:
        return module(*batch)

    def lengths(self, inputs: Sequence[Any]) -> np.ndarray | None:
        return None

    def sites(self) -> list[Site]:
        raise NotImplementedError

    def param_groups(self, lr: float, head_lr: float) -> list[dict[str, Any]] | None:
        return None

    def shrink(self, keep: Sequence[Sequence[int]]) -> dict[str, Any]:
        """Remove all but the kept units of each site; return what changed, for the manifest."""
        raise NotImplementedError(f"{type(self).__name__} cannot prune units structurally")

    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.module.parameters()))


class MLPView(NetView):
    name = "mlp"

    @property
    def module(self) -> Any:
        return self.family.module.net

    def sites(self) -> list[Site]:
        head = self.module.head
        positions = linear_positions(head)
        return [Site(head[p], head[p].in_features) for p in positions[1:]]

    def shrink(self, keep: Sequence[Sequence[int]]) -> dict[str, Any]:
        widths = shrink_sequential(self.module.head, keep)
        before = list(self.family.params["hidden_sizes"])
        self.family.params["hidden_sizes"] = widths  # load() rebuilds the net at these widths
        return {"hidden_sizes_parent": before, "hidden_sizes": widths,
                "neurons_removed_per_layer": [b - w for b, w in zip(before, widths, strict=True)]}


class TextView(NetView):
    name = "text"

    @property
    def module(self) -> Any:
        return self.family.net

    def inputs(self, X: pd.DataFrame) -> list[Any]:
        tokens = [t for col in self.family.text_columns
                  for t in self.family._tokenize(X[col].tolist())]
        return [*super().inputs(X), *tokens]

    def forward(self, module: Any, batch: Sequence[Any]) -> Any:
        from lathe.models._shrink import trim_padding

        text: list[Any] = []
        for i in range(2, len(batch), 2):  # batches come globally padded: drop unused columns
            text += list(trim_padding(batch[i], batch[i + 1]))
        return module(batch[0], batch[1], *text)

    def lengths(self, inputs: Sequence[Any]) -> np.ndarray | None:
        import torch

        masks = inputs[3::2]
        return torch.stack([m.sum(dim=1) for m in masks]).amax(dim=0).numpy() if masks else None

    def sites(self) -> list[Site]:
        from lathe.models._shrink import bert_layers

        out = []
        for layer in bert_layers(self.family.net.encoder):
            size = layer.attention.self.attention_head_size
            dense = layer.attention.output.dense
            out.append(Site(dense, dense.in_features // size, size, "head"))
            out.append(Site(layer.output.dense, layer.output.dense.in_features))
        return out

    def shrink(self, keep: Sequence[Sequence[int]]) -> dict[str, Any]:
        from lathe.models._shrink import shrink_encoder, shrunk_sizes

        encoder = self.family.net.encoder
        before = shrunk_sizes(encoder)
        after = shrink_encoder(encoder, keep[0::2], keep[1::2])
        return {"heads_parent": before["heads"], "heads": after["heads"],
                "heads_removed_per_layer": [b - a for b, a in
                                            zip(before["heads"], after["heads"], strict=True)],
                "intermediate_parent": before["intermediate"],
                "intermediate": after["intermediate"],
                "ffn_neurons_removed_per_layer": [
                    b - a for b, a in zip(before["intermediate"], after["intermediate"],
                                          strict=True)]}

    def param_groups(self, lr: float, head_lr: float) -> list[dict[str, Any]] | None:
        net = self.family.net
        # the 30k-token embedding table is half the encoder and pruning does not touch it;
        # freezing it (as fine-tuning does) makes each step ~3x cheaper in the optimizer
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        encoder = [p for p in net.encoder.parameters() if p.requires_grad]
        return [{"params": encoder, "lr": lr},
                {"params": list(net.headnet.parameters()), "lr": head_lr}]


def mlp_view(family: Any, structured: bool = False) -> NetView:
    """`MLP.net_view`: its hidden layers; structured pruning needs at least one."""
    view = MLPView(family)
    if structured and not view.sites():
        raise UsageError("this mlp has no hidden layer, so there are no neurons to remove",
                         hint="use --kind magnitude, or train with hidden_sizes")
    return view


def text_view(family: Any, structured: bool = False) -> NetView:
    """`TextModel.net_view`: its encoder's heads and FFN neurons (BERT-style encoders)."""
    view = TextView(family)
    if family.net.encoder is None:
        if structured:
            raise UsageError("structured pruning removes encoder heads and neurons; this "
                             "text model has no text column, hence no encoder",
                             hint="use --kind magnitude")
    elif structured and not view.sites():
        raise UsageError(f"structured pruning knows BERT-style encoders (MiniLM, BERT); "
                         f"this one is {type(family.net.encoder).__name__}",
                         hint="use --kind magnitude")
    return view


_VIEWS = {"mlp": mlp_view, "text": text_view}


def view_of(family: Any, structured: bool = False) -> NetView:
    """`TorchRuntime.net_view`: the view that knows this family's network."""
    return _VIEWS[family.name](family, structured)


def net_view(family: Any, structured: bool = False) -> NetView:
    """The view of a fitted torch family (`family.net_view`; UsageError for others)."""
    return family.net_view(structured)
