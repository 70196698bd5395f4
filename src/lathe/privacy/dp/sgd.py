"""DP-SGD with Opacus: Poisson sampling, per-example gradient clipping and Gaussian noise
whose multiplier Opacus's accountant chooses so that the planned epochs spend at most the
given (epsilon, delta). The net is trained in place; the record says what was spent.

The noise comes from a generator seeded by the operating system, not by the run's seed: a
known seed would let anyone regenerate and subtract the noise. A private run is therefore not
bit-for-bit reproducible.

>>> spent_epsilon({"noise_multiplier": 1.1, "sample_rate": 0.01, "steps": 1000,
...                "accountant": "rdp"}, 1e-5) < 2.0
True
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from lathe.errors import MissingDependency

__all__ = ["train_private", "spent_epsilon"]


def _opacus() -> Any:
    try:
        import opacus
    except ImportError as err:  # pragma: no cover - the privacy extra is installed here
        raise MissingDependency("DP training needs Opacus",
                                hint="pip install 'lathe[privacy]'") from err
    return opacus


# Opacus's notices that do not apply: the noise generator is seeded from OS entropy (not
# "secure mode", which needs torchcsprng); the RDP order range; inputs need no gradient
_QUIET = ("Secure RNG turned off", "Optimal order is the", "Full backward hook is firing")


class _quiet(warnings.catch_warnings):
    def __enter__(self) -> None:
        super().__enter__()
        for text in _QUIET:
            warnings.filterwarnings("ignore", message=f".*{text}")


def spent_epsilon(record: dict[str, Any], delta: float) -> float:
    """Epsilon of a recorded DP-SGD run, recomputed by Opacus's accountant from its
    (noise multiplier, sample rate, steps)."""
    _opacus()
    from opacus.accountants import create_accountant

    accountant = create_accountant(record["accountant"])
    accountant.history = [(record["noise_multiplier"], record["sample_rate"], record["steps"])]
    with _quiet():
        return float(accountant.get_epsilon(delta=delta))


def train_private(
    net: Any,
    tensors: Sequence[Any],
    batch_loss: Callable[[Any, Sequence[Any]], Any],
    *,
    epsilon: float,
    delta: float,
    epochs: int,
    batch_size: int,
    max_grad_norm: float,
    lr: float,
    accountant: str = "prv",
    validate: Callable[[Any], float] | None = None,
) -> dict[str, Any]:
    """Train `net` in place on `tensors` (the last element is the label) with DP-SGD.

    `batch_loss(module, batch)` returns the mean loss of a batch. Returns the record that
    goes to the manifest: mechanism, epsilon spent, noise multiplier, clipping, sample rate,
    steps, epochs, accountant, and the validation curve when `validate` is given."""
    with _quiet():
        return _train(net, tensors, batch_loss, epsilon=epsilon, delta=delta, epochs=epochs,
                      batch_size=batch_size, max_grad_norm=max_grad_norm, lr=lr,
                      accountant=accountant, validate=validate)


def _train(net: Any, tensors: Sequence[Any], batch_loss: Callable[[Any, Sequence[Any]], Any], *,
           epsilon: float, delta: float, epochs: int, batch_size: int, max_grad_norm: float,
           lr: float, accountant: str, validate: Callable[[Any], float] | None
           ) -> dict[str, Any]:
    _opacus()
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    n = len(tensors[0])
    batch_size = max(1, min(batch_size, n // 2))
    dataset = TensorDataset(*tensors)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    engine = PrivacyEngine(accountant=accountant)
    generator = torch.Generator().manual_seed(secrets.randbits(63))
    module, optimizer, private_loader = engine.make_private_with_epsilon(
        module=net, optimizer=optimizer, data_loader=loader, target_epsilon=epsilon,
        target_delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
        poisson_sampling=True, noise_generator=generator)
    curve: list[float] = []
    steps = 0
    for _ in range(epochs):
        module.train()
        for batch in private_loader:
            optimizer.zero_grad(set_to_none=True)
            if len(batch[0]) == 0:  # Poisson sampling may draw an empty batch: still a step
                optimizer.step()
                steps += 1
                continue
            loss = batch_loss(module, batch)
            loss.backward()
            optimizer.step()
            steps += 1
        if validate is not None:
            module.eval()
            with torch.no_grad():
                curve.append(float(validate(net)))
    spent = float(engine.accountant.get_epsilon(delta=delta))
    module.eval()
    _unwrap(module, net)
    return {
        "mechanism": "DP-SGD (Opacus)", "library": f"opacus {_opacus().__version__}",
        "epsilon": spent, "target_epsilon": float(epsilon), "delta": float(delta),
        "noise_multiplier": float(optimizer.noise_multiplier),
        "max_grad_norm": float(max_grad_norm), "clipping": "flat, per example",
        "sample_rate": float(1.0 / len(private_loader)), "sampling": "Poisson",
        "expected_batch_size": batch_size, "epochs": int(epochs), "steps": steps,
        "accountant": accountant, "optimizer": f"Adam(lr={lr:g})", "lr": float(lr),
        "noise_seed": "operating-system entropy", "validation_curve": curve,
    }


def _unwrap(module: Any, net: Any) -> None:
    """Remove Opacus's hooks and per-example gradients, leaving the plain net."""
    if hasattr(module, "_close"):
        module._close()
    elif hasattr(module, "remove_hooks"):
        module.remove_hooks()
    for param in net.parameters():
        for attr in ("grad_sample", "summed_grad", "_forward_counter"):
            if hasattr(param, attr):
                try:
                    delattr(param, attr)
                except AttributeError:
                    setattr(param, attr, None)
        param.grad = None
