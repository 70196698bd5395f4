"""The text family's network (encoder + head) and what trains it: the head's embedding
scale, freezing parts of the encoder, trimming padding, and a fit-time estimate timed on this
machine. `lathe.models.text` holds the family itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lathe.models import _encoder
from lathe.models._base import FitData
from lathe.models._shrink import trim_padding
from lathe.models.mlp import (
    TabularPrep,
    _threads,
    build_head,
    build_tabular_block,
    import_torch,
)

__all__ = ["build_text_net", "linear_probe", "embedding_scale", "freeze_encoder", "trim_padding",
           "estimate_fit_seconds"]


def build_text_net(torch: Any, encoder: Any, n_text: int, prep: TabularPrep,
                   hidden: Sequence[int], dropout: float, n_out: int) -> Any:
    nn: Any = torch.nn
    width = encoder.config.hidden_size if encoder is not None else 0

    class HeadNet(nn.Module):
        """Tabular inputs + standardised text embeddings -> logits (or a scaled value)."""

        def __init__(self) -> None:
            super().__init__()
            self.tabular = build_tabular_block(torch, len(prep.numeric), prep.cardinalities)
            self.register_buffer("emb_mean", torch.zeros(max(1, n_text), max(1, width)))
            self.register_buffer("emb_std", torch.ones(max(1, n_text), max(1, width)))
            self.head = build_head(torch, self.tabular.out_dim + n_text * width, hidden,
                                   dropout, n_out)

        def forward(self, numeric: Any, categorical: Any, *embeddings: Any) -> Any:
            parts = [self.tabular(numeric, categorical)]
            for i, emb in enumerate(embeddings):
                parts.append((emb.float() - self.emb_mean[i]) / self.emb_std[i])
            return self.head(torch.cat(parts, dim=1))

    class TextNet(nn.Module):
        """Encoder + head. forward(numeric, categorical, ids_1, mask_1, ids_2, mask_2, ...)."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.headnet = HeadNet()

        def embed(self, ids: Any, mask: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            return _encoder.mean_pool(hidden.float(), mask)

        def forward(self, numeric: Any, categorical: Any, *text: Any) -> Any:
            embeddings = [self.embed(text[i], text[i + 1]) for i in range(0, len(text), 2)]
            return self.headnet(numeric, categorical, *embeddings)

    return TextNet()


def embedding_scale(emb: np.ndarray, floor: float = 0.1) -> np.ndarray:
    """Per-dimension standard deviations for standardising embeddings, each at least `floor`
    times the median one.

    Why the floor: all-MiniLM-L6-v2 has dimensions that are constant on every input (three
    of 384, std ~1e-9). Divided by their own std they turn the smallest change of the encoder
    during fine-tuning into inputs of hundreds of units at the head.

    >>> emb = np.array([[0.0, 1.0, 2.0, 5.0], [0.0, 3.0, 4.0, 1.0]], dtype=np.float32)
    >>> embedding_scale(emb).tolist()
    [0.10000000149011612, 1.0, 1.0, 2.0]
    """
    std = emb.std(axis=0).astype(np.float32)
    reference = float(np.median(std)) if std.size else 1.0
    return np.maximum(std, np.float32(floor * reference if reference > 0 else 1.0))


def freeze_encoder(encoder: Any, layers: int, embeddings: bool) -> None:
    """Stop gradients into the word-embedding table (`embeddings`) and, with `layers` > 0,
    into all embeddings and the first `layers` transformer layers."""
    if embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    if layers <= 0:
        return
    for q in encoder.embeddings.parameters():
        q.requires_grad_(False)
    for layer in encoder.encoder.layer[:layers]:
        for q in layer.parameters():
            q.requires_grad_(False)


def estimate_fit_seconds(p: dict[str, Any], data: FitData, steps: int = 4) -> float:
    """About how long a text model with resolved parameters `p` takes to fit `data` on this
    machine (bf16 or not, its threads). A few optimizer steps are timed on batches of the
    training texts, giving a cost per token, which is scaled to every epoch's tokens, plus
    the forward-only passes (validation, embeddings: a third of a step's cost per token).
    Costs a few seconds; random batches pad more than the fit's length-bucketed ones, so the
    estimate leans high (Banking77, 7,201 rows, 3 epochs: 225 s estimated, 240 s spent in
    the training loop).
    """
    torch = import_torch()
    from lathe.models.torch_loop import autocast, resolve_bf16

    columns = data.schema.names_of("text")
    if not columns:
        return 0.0
    finetune = p["mode"] == "finetune"
    tokenizer, encoder = _encoder.load_encoder(_encoder.resolve_encoder(p["encoder"]))
    if p["encoder_layers"]:
        encoder = _encoder.truncate_layers(encoder, int(p["encoder_layers"]))
    freeze_encoder(encoder, int(p["freeze_layers"]), bool(p["freeze_embeddings"]))
    prep = TabularPrep(data.schema).fit(data.X_train.head(256))
    net = build_text_net(torch, encoder, len(columns), prep, p["hidden_sizes"],
                         float(p["dropout"]), max(1, data.schema.n_classes or 1))
    optimizer = torch.optim.AdamW([q for q in net.parameters() if q.requires_grad], lr=1e-9)

    def tokens(frame: pd.DataFrame | None) -> int:
        if frame is None:
            return 0
        return sum(len(ids) for col in columns for ids in tokenizer(
            [str(t) for t in frame[col]], truncation=True,
            max_length=int(p["max_length"]))["input_ids"])

    batch_size, n = int(p["batch_size"]), len(data.X_train)
    rng = np.random.default_rng(data.seed)
    per_token = []
    with _threads(torch, data.threads):
        net.train()
        for _ in range(steps + 1):
            rows = data.X_train.iloc[rng.choice(n, size=min(batch_size, n), replace=False)]
            texts = []
            for col in columns:
                batch = tokenizer([str(t) for t in rows[col]], padding=True, truncation=True,
                                  max_length=int(p["max_length"]), return_tensors="pt")
                texts += [batch["input_ids"], batch["attention_mask"]]
            tab = [torch.from_numpy(a) for a in prep.transform(rows)]
            started = time.perf_counter()
            with autocast(torch.device("cpu"), finetune and resolve_bf16(p["bf16"])):
                loss = net(*tab, *texts).float().square().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            per_token.append((time.perf_counter() - started)
                             / sum(int(t.numel()) for t in texts[::2]))
    step_token = float(np.median(per_token[1:]))  # the first step warms caches up
    train_tokens, valid_tokens = tokens(data.X_train), tokens(data.X_valid)
    if not finetune:  # the encoder runs forward once over every row; the head costs little
        return step_token / 3.0 * (train_tokens + valid_tokens)
    epochs = int(p["max_epochs"])
    return (step_token * train_tokens * epochs
            + step_token / 3.0 * (valid_tokens * (epochs + 1) + train_tokens))


def linear_probe(torch: Any, model: Any, data: FitData, train_emb: list[np.ndarray],
                 tab: list[Any], y: Any, weight: Any, loss: Any, frozen: dict[str, Any]) -> None:
    """Train the head on frozen embeddings before fine-tuning ("LP-FT"): the encoder then
    starts from a head that already fits, instead of being pulled about by a random one.
    `model` is the TextModel being fitted; `frozen` the loop settings of the frozen mode."""
    from lathe.models.torch_loop import LoopConfig, train_loop

    inputs = [*tab, *[torch.from_numpy(e) for e in train_emb]]
    validate = None
    if data.X_valid is not None and data.y_valid is not None and len(data.X_valid):
        assert model.prep is not None
        v_in = [*(torch.from_numpy(a) for a in model.prep.transform(data.X_valid)),
                *(torch.from_numpy(e) for e in model._embeddings(data.X_valid, cached=True))]
        v_y = (torch.tensor(data.y_valid, dtype=y.dtype) if y.dtype == torch.long else
               torch.tensor((np.asarray(data.y_valid) - model.y_mean) / model.y_std,
                            dtype=torch.float32))

        def validate(m: Any) -> float:
            return float(loss(m(*v_in), v_y, torch.ones(len(v_y))))

    n_in = len(inputs)
    config = LoopConfig(max_epochs=int(frozen["max_epochs"]), batch_size=frozen["batch_size"],
                        lr=frozen["lr"], weight_decay=float(frozen["weight_decay"]),
                        patience=frozen["patience"], seed=data.seed,
                        warmup_fraction=frozen["warmup_fraction"])
    train_loop(model.net.headnet, (*inputs, y, weight),
               lambda m, b: loss(m(*b[:n_in]), b[n_in], b[n_in + 1]), validate, config)
