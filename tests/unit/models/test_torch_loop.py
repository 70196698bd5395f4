"""The shared torch training loop: learning, early stopping, schedule, exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lathe.errors import UsageError  # noqa: E402
from lathe.models.torch_loop import LoopConfig, _schedule, train_loop  # noqa: E402

pytestmark = pytest.mark.text


def _problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=gen)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) > 0).long()
    return x, y


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(16, 2))


def _run(tmp: Path | None, resume: bool = False, callbacks=(), max_epochs: int = 6):  # noqa: ANN001, ANN202
    x, y = _problem()
    xv, yv = _problem(1)
    net = _net()
    result = train_loop(
        net,
        (x, y),
        lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]),
        lambda m: float(torch.nn.functional.cross_entropy(m(xv), yv)),
        LoopConfig(max_epochs=max_epochs, batch_size=32, lr=0.05, patience=10,
                   checkpoint_dir=str(tmp) if tmp else None, resume=resume),
        callbacks,
    )
    return net, result


def test_loop_learns_and_reports_each_epoch() -> None:
    events: list[dict] = []
    net, result = _run(None, callbacks=[lambda e, info: events.append({"event": e, **info})])
    assert [e["epoch"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert all(e["event"] == "epoch" and e["total"] == 6 for e in events)
    assert result.curve[-1] < result.curve[0] and result.best_metric == min(result.curve)
    x, y = _problem(1)
    assert (net(x).argmax(1) == y).float().mean() > 0.9


def test_early_stopping_keeps_the_best_weights() -> None:
    x, y = _problem()
    net = _net()
    values = iter([0.5, 0.4, 0.45, 0.46, 0.47, 0.1])
    result = train_loop(net, (x, y), lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]),
                        lambda m: next(values), LoopConfig(max_epochs=6, patience=2))
    assert result.stopped_early and result.epochs_run == 4 and result.best_epoch == 1


def test_schedule_warms_up_then_decays_to_zero() -> None:
    factor = _schedule(100, 0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5) and factor(100) == 0.0


def test_interrupted_run_resumes_to_identical_result(tmp_path: Path) -> None:
    full_net, full = _run(tmp_path / "full")

    def stop_after_two(event: str, info: dict) -> None:
        if info["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", callbacks=[stop_after_two])
    resumed_net, resumed = _run(tmp_path / "cut", resume=True)
    assert resumed.resumed_from == 2
    assert resumed.curve == full.curve
    for a, b in zip(full_net.state_dict().values(), resumed_net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # resuming a finished run does no more work and returns the same best weights
    again_net, again = _run(tmp_path / "full", resume=True)
    assert again.curve == full.curve and torch.equal(again_net[0].weight, full_net[0].weight)


def test_resume_refuses_a_checkpoint_from_other_parameters(tmp_path: Path) -> None:
    _run(tmp_path, max_epochs=2)
    with pytest.raises(UsageError, match="max_epochs"):
        _run(tmp_path, resume=True, max_epochs=3)
