"""The short fine-tune that lets a pruned network recover, through the shared training loop.

Target: the parent's soft predictions at temperature T blended with the labels (Hinton et
al.'s distillation loss, alpha * CE(labels) + (1 - alpha) * T^2 * CE(parent_T, child_T)):
the parent knows which near-misses are near, and staying close to it is what the
parent-vs-child table measures. Regression blends the label and the parent's value.

Early stopping watches the label loss on a validation part of the fit rows; if no epoch
beats the pruned network as it was before recovery, that network is kept — recovery never
makes the validation loss worse. Only the compressor's fit rows are used here: the
pipeline keeps the evaluation rows away from every compressor.

>>> import torch
>>> loss = row_losses(torch, "binary", temperature=2.0, alpha=0.5)
>>> out = torch.tensor([[2.0, -2.0]]); teacher = torch.log(torch.tensor([[0.9, 0.1]]))
>>> bool(loss(out, torch.tensor([0]), teacher) < loss(-out, torch.tensor([0]), teacher))
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from lathe.models.prunable import NetView

__all__ = ["RecoveryConfig", "RECOVERY", "FitRows", "fit_rows", "row_losses", "recover"]


@dataclass(frozen=True)
class RecoveryConfig:
    max_epochs: int
    patience: int
    lr: float  # the encoder's for text (the head's is head_lr); the whole net's for mlp
    head_lr: float
    batch_size: int
    weight_decay: float
    bf16: bool | str  # bf16 autocast while training (weights stay fp32); "auto": if native
    time_budget_s: float
    temperature: float = 2.0
    alpha: float = 0.5  # share of the labels in the target; the rest is the parent


RECOVERY: dict[str, RecoveryConfig] = {
    # the mlp's own training settings at half the learning rate: it starts from good weights
    "mlp": RecoveryConfig(max_epochs=20, patience=3, lr=1e-3, head_lr=1e-3, batch_size=256,
                          weight_decay=1e-4, bf16=False, time_budget_s=120.0),
    # the text family's fine-tuning settings, but few epochs: "short" is the point. bf16 only
    # where it is native: emulated, it made a MiniLM training step 14x slower on an AVX2-only
    # CPU (10 s vs 0.7 s for 32 rows)
    "text": RecoveryConfig(max_epochs=3, patience=1, lr=1e-4, head_lr=1e-3, batch_size=32,
                           weight_decay=0.01, bf16="auto", time_budget_s=600.0),
}


@dataclass
class FitRows:
    """Network inputs, labels (long, or standardised values) and the parent's targets
    (log-probabilities, or standardised values), row-aligned."""

    inputs: list[Any]
    y: Any
    teacher: Any

    def __len__(self) -> int:
        return len(self.y)

    def batches(self, size: int, limit: int | None = None) -> list[list[Any]]:
        n = len(self) if limit is None else min(limit, len(self))
        tensors = [*self.inputs, self.y, self.teacher]
        return [[t[i:i + size] for t in tensors] for i in range(0, n, size)]


def fit_rows(view: NetView, X: pd.DataFrame, y: np.ndarray, parent_raw: np.ndarray | None,
             task: str) -> FitRows:
    import torch

    family = view.family
    if task == "regression":
        def scaled(v: np.ndarray) -> Any:
            return torch.tensor((np.asarray(v) - family.y_mean) / family.y_std,
                                dtype=torch.float32)
        labels = scaled(y)
        teacher = scaled(parent_raw) if parent_raw is not None else labels
    else:
        labels = torch.tensor(np.asarray(y), dtype=torch.long)
        teacher = (torch.from_numpy(np.log(np.clip(parent_raw, 1e-12, 1.0)).astype(np.float32))
                   if parent_raw is not None else torch.zeros(len(labels), 1))
    return FitRows(view.inputs(X), labels, teacher)


def row_losses(torch: Any, task: str, *, temperature: float, alpha: float
               ) -> Callable[[Any, Any, Any], Any]:
    """loss(raw outputs, labels, parent targets) -> one loss per row (see module docstring)."""
    functional = torch.nn.functional

    def loss(out: Any, y: Any, teacher: Any) -> Any:
        out = out.float()
        if task == "regression":
            return (out[:, 0] - (alpha * y + (1 - alpha) * teacher)) ** 2
        hard = functional.cross_entropy(out, y, reduction="none")
        parent = functional.softmax(teacher / temperature, dim=1)
        soft = -(parent * functional.log_softmax(out / temperature, dim=1)).sum(dim=1)
        return alpha * hard + (1 - alpha) * temperature**2 * soft

    return loss


def _validator(view: NetView, rows: FitRows, task: str, bf16: bool) -> Callable[[Any], float]:
    import torch

    functional = torch.nn.functional

    def validate(module: Any) -> float:
        outs = []
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for start in range(0, len(rows), 256):
                batch = [t[start:start + 256] for t in rows.inputs]
                outs.append(view.forward(module, batch).float())
        out = torch.cat(outs)
        if task == "regression":
            return float(((out[:, 0] - rows.y) ** 2).mean())
        return float(functional.cross_entropy(out, rows.y))

    return validate


def recover(view: NetView, train: FitRows, valid: FitRows, task: str, config: RecoveryConfig,
            seed: int = 0) -> dict[str, Any]:
    """Fine-tune `view.module` in place on `train`, early-stopped on `valid`; the record."""
    import torch

    from lathe.models.torch_loop import LoopConfig, resolve_bf16, train_loop

    module = view.module
    bf16 = resolve_bf16(config.bf16)
    validate = _validator(view, valid, task, bf16)
    module.eval()
    before = validate(module)
    initial = {k: v.detach().clone() for k, v in module.state_dict().items()}
    loss = row_losses(torch, task, temperature=config.temperature, alpha=config.alpha)
    n_in = len(train.inputs)
    metric = "valid_mse" if task == "regression" else "valid_log_loss"
    loop = LoopConfig(max_epochs=config.max_epochs, batch_size=config.batch_size, lr=config.lr,
                      weight_decay=config.weight_decay, warmup_fraction=0.1, grad_clip=1.0,
                      patience=config.patience, bf16=bf16, seed=seed,
                      time_budget_s=config.time_budget_s, metric_name=metric)

    def batch_loss(m: Any, b: Sequence[Any]) -> Any:
        return loss(view.forward(m, b[:n_in]), b[n_in], b[n_in + 1]).mean()

    result = train_loop(module, (*train.inputs, train.y, train.teacher), batch_loss, validate,
                        loop, param_groups=view.param_groups(config.lr, config.head_lr),
                        lengths=view.lengths(train.inputs))
    improved = bool(result.best_metric < before)
    if not improved:
        module.load_state_dict(initial)
    module.to("cpu").eval()
    return {"epochs": result.epochs_run, "best_epoch": result.best_epoch + 1,
            "seconds": round(result.seconds, 1), "metric": metric,
            "valid_before": round(before, 5),
            "valid_after": round(min(before, result.best_metric), 5),
            "kept_recovered_weights": improved, "train_rows": len(train),
            "valid_rows": len(valid), "target": "labels + parent soft predictions",
            **asdict(config)}
