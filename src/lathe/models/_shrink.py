"""Structural surgery on torch layers: keep some output rows / input columns of a Linear (and
the matching features of a norm layer), and remove attention heads and FFN neurons from a
BERT-style encoder in a way that survives `save_pretrained` and `load_encoder`.

transformers 5 dropped `PreTrainedModel.prune_heads` and the config's `pruned_heads`, and its
`from_pretrained` refuses weights whose shapes differ from the config. So a shrunk encoder
records its per-layer sizes in its config (`lathe_shrunk = {"heads": [...],
"intermediate": [...]}`); `load_encoder` sees the record, builds the model from the config,
cuts every layer to the recorded sizes and then loads the saved weights strictly.

BERT's attention reshapes with `view(..., -1, head_size)`, so a layer with fewer heads needs
no other change (checked against transformers 5.24: outputs match the sliced weights).

>>> import torch
>>> layer = torch.nn.Linear(4, 3)
>>> slice_linear(layer, torch.tensor([0, 2]), dim=0).weight.shape
torch.Size([2, 4])
>>> slice_linear(layer, torch.tensor([1, 3]), dim=1).weight.shape
torch.Size([3, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["trim_padding", "slice_linear", "slice_norm", "bert_layers", "shrink_encoder", "shrunk_sizes",
           "load_shrunk_encoder", "SHRUNK_KEY"]

SHRUNK_KEY = "lathe_shrunk"


def slice_linear(layer: Any, index: Any, dim: int) -> Any:
    """A new Linear keeping `index` of its outputs (dim=0) or of its inputs (dim=1)."""
    import torch

    index = torch.as_tensor(index, dtype=torch.long, device=layer.weight.device)
    weight = layer.weight.detach().index_select(dim, index).clone()
    out_f, in_f = weight.shape
    new = torch.nn.Linear(in_f, out_f, bias=layer.bias is not None,
                          device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if layer.bias is not None:  # the bias belongs to the outputs: sliced only with them
            new.bias.copy_(layer.bias.detach()[index] if dim == 0 else layer.bias.detach())
    return new.train(layer.training)


def slice_norm(norm: Any, index: Any) -> Any:
    """A BatchNorm1d / LayerNorm over the kept features (statistics and affine sliced)."""
    import torch

    index = torch.as_tensor(index, dtype=torch.long)
    new: Any
    if isinstance(norm, torch.nn.BatchNorm1d):
        new = torch.nn.BatchNorm1d(len(index), eps=norm.eps, momentum=norm.momentum,
                                   affine=norm.affine, track_running_stats=norm.track_running_stats)
        names = ["weight", "bias", "running_mean", "running_var"]
        if norm.num_batches_tracked is not None and new.num_batches_tracked is not None:
            new.num_batches_tracked.copy_(norm.num_batches_tracked)
    elif isinstance(norm, torch.nn.LayerNorm):
        # a LayerNorm over fewer features normalises with their own mean and spread: not
        # exact, which the recovery fine-tune after pruning is there to absorb
        new = torch.nn.LayerNorm(len(index), eps=norm.eps,
                                 elementwise_affine=norm.elementwise_affine)
        names = ["weight", "bias"]
    else:
        raise TypeError(f"cannot slice {type(norm).__name__}")
    with torch.no_grad():
        for name in names:
            source, target = getattr(norm, name, None), getattr(new, name, None)
            if source is not None and target is not None:
                target.copy_(source.detach()[index])
    return new.train(norm.training)  # a fresh module starts in training mode: batch statistics


def bert_layers(encoder: Any) -> list[Any]:
    """The transformer layers of a BERT-style encoder (MiniLM, BERT, RoBERTa), or [] if the
    encoder has another layout (those are not shrunk structurally)."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None:
        return []
    needed = ("attention.self.query", "attention.self.key", "attention.self.value",
              "attention.output.dense", "intermediate.dense", "output.dense")
    for layer in layers:
        for dotted in needed:
            part = layer
            for name in dotted.split("."):
                part = getattr(part, name, None)
            if part is None:
                return []
    return list(layers)


def shrunk_sizes(encoder: Any) -> dict[str, list[int]]:
    """Heads and FFN neurons per layer, as the layers are now."""
    heads, intermediate = [], []
    for layer in bert_layers(encoder):
        attention = layer.attention.self
        heads.append(attention.query.out_features // attention.attention_head_size)
        intermediate.append(layer.intermediate.dense.out_features)
    return {"heads": heads, "intermediate": intermediate}


def shrink_encoder(encoder: Any, keep_heads: Sequence[Sequence[int]],
                   keep_neurons: Sequence[Sequence[int]]) -> dict[str, list[int]]:
    """Keep, per layer, the listed heads and FFN neurons (indices into the current layer);
    in place. Records the new sizes in the config; returns them."""
    import torch

    layers = bert_layers(encoder)
    if len(keep_heads) != len(layers) or len(keep_neurons) != len(layers):
        raise ValueError(f"{len(layers)} layers, got {len(keep_heads)} head and "
                         f"{len(keep_neurons)} neuron lists")
    for layer, heads, neurons in zip(layers, keep_heads, keep_neurons, strict=True):
        if not heads or not neurons:
            raise ValueError("every layer keeps at least one head and one FFN neuron")
        attention = layer.attention
        size = attention.self.attention_head_size
        rows = torch.cat([torch.arange(h * size, (h + 1) * size) for h in sorted(heads)])
        for name in ("query", "key", "value"):
            setattr(attention.self, name, slice_linear(getattr(attention.self, name), rows, 0))
        attention.output.dense = slice_linear(attention.output.dense, rows, 1)
        # kept in step for code that reads them (the forward itself infers the head count)
        attention.self.num_attention_heads = len(heads)
        attention.self.all_head_size = len(rows)
        index = torch.as_tensor(sorted(neurons))
        layer.intermediate.dense = slice_linear(layer.intermediate.dense, index, 0)
        layer.output.dense = slice_linear(layer.output.dense, index, 1)
    sizes = shrunk_sizes(encoder)
    setattr(encoder.config, SHRUNK_KEY, sizes)
    return sizes


def load_shrunk_encoder(path: Path, config: Any) -> Any:
    """A shrunk encoder saved with `save_pretrained`: layers cut to the recorded sizes, then
    the saved weights loaded strictly (a wrong shape is an error, never a silent re-init)."""
    from transformers import AutoModel

    from lathe.errors import IntegrityError

    sizes = getattr(config, SHRUNK_KEY)
    model = AutoModel.from_config(config)
    layers = bert_layers(model)
    if len(layers) != len(sizes["heads"]) or len(layers) != len(sizes["intermediate"]):
        raise IntegrityError(f"{path}/config.json records {len(sizes['heads'])} shrunk layers "
                             f"for an encoder with {len(layers)}",
                             hint="the encoder directory was edited; re-create the artifact")
    shrink_encoder(model, [range(h) for h in sizes["heads"]],
                   [range(n) for n in sizes["intermediate"]])
    state = _saved_state(path)
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise IntegrityError(f"{path}: saved encoder weights do not match the recorded sizes "
                             f"({str(err).splitlines()[0]})",
                             hint="the encoder directory was edited; re-create the artifact") from err
    missing = set(model.state_dict()) - set(state)
    missing = {k for k in missing if not k.endswith("position_ids")}  # a rebuilt buffer
    if missing:
        raise IntegrityError(f"{path}: saved encoder lacks {sorted(missing)[:3]}",
                             hint="the encoder directory was edited; re-create the artifact")
    model.eval()
    return model


def _saved_state(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    from lathe.errors import NotFound

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise NotFound(f"{path} has no .safetensors weights",
                       hint="a shrunk encoder is saved with save_pretrained (safetensors)")
    state: dict[str, Any] = {}
    for file in files:
        state.update(load_file(str(file)))
    return state


def trim_padding(ids: Any, mask: Any) -> tuple[Any, Any]:
    """Drop padding columns no row of this batch uses (batches come from a global padding)."""
    length = int(mask.sum(dim=1).max().clamp(min=1))
    return ids[:, :length], mask[:, :length]
