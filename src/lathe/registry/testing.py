"""First-class fakes and harnesses for testing registries (used by tests and bench/registry.py).

`fake_artifact` writes a small but real artifact directory (a manifest shaped like the one
`lathe.train` writes, and a weights file); `kill_trials` SIGKILLs real processes while they
register, promote, roll back and delete, then checks the registry's invariants;
`concurrent_writers` runs real processes against one store at once.

>>> import tempfile, pathlib
>>> path = fake_artifact(pathlib.Path(tempfile.mkdtemp()) / "a", seed=1, auc=0.8)
>>> from lathe.artifact import verify
>>> verify(path)["metrics"]["test"]["roc_auc"]
0.8
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from lathe.artifact import write_artifact
from lathe.errors import LatheError

__all__ = ["fake_artifact", "kill_trials", "concurrent_writers", "champion_chain_problems"]


def fake_artifact(
    target: str | os.PathLike[str],
    *,
    seed: int,
    auc: float = 0.8,
    task: str = "binary",
    size: int = 2048,
) -> Path:
    """A valid artifact whose content (and so hash) is determined by `seed`."""
    rng = random.Random(seed)
    payload = rng.randbytes(size)
    metric = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}[task]
    manifest = {
        "family": "fake",
        "task": task,
        "metrics": {"test": {metric: auc, "n_rows": 100}},
        "primary_metric": metric,
        "config": {"train": {"seed": seed}},
        "lineage": {"dataset_hash": f"sha256:{seed:064x}", "parent": None, "git_commit": None},
    }

    def write(staging: Path) -> None:
        (staging / "model").mkdir()
        (staging / "model" / "weights.bin").write_bytes(payload)
        (staging / "model" / "shared.txt").write_text("same in every fake artifact\n")

    write_artifact(Path(target), manifest, write)
    return Path(target)


# ---- processes killed at random points --------------------------------------------------
def _churn(url: str, blob_root: str, scratch: str, seed: int, ready: Any) -> None:
    """Forever: register, promote, roll back and delete, as fast as possible.

    `ready` is set once the first operation has landed, so every kill interrupts a writer
    that has provably made progress (on a loaded machine a fixed delay may not be enough).
    """
    from lathe.registry.registry import open_registry

    rng = random.Random(seed)
    registry = open_registry(url, blob_root)
    step = 0
    while True:
        step += 1
        try:
            op = rng.random()
            known = [v.version for v in registry.list("m")] if step > 1 else []
            if op < 0.45 or not known:
                path = fake_artifact(
                    Path(scratch) / f"{seed}-{step}", seed=seed * 100_000 + step, auc=rng.random()
                )
                registry.register(path, name="m", note=f"step {step}")
            elif op < 0.8:
                alias = rng.choice(["champion", "champion", "challenger"])
                registry.promote("m", rng.choice(known), alias=alias, force=True, reason="churn")
            elif op < 0.9:
                registry.rollback("m")
            else:
                registry.delete("m", rng.choice(known), reason="churn")
        except LatheError:
            continue  # refused (e.g. deleting the champion): expected, the state is unchanged
        ready.set()


def kill_trials(
    url: str,
    blob_root: str | os.PathLike[str],
    trials: int,
    *,
    seed: int = 0,
    max_delay_s: float = 0.25,
) -> list[dict[str, Any]]:
    """SIGKILL a busy writer `trials` times; after each kill record the problems found."""
    import lathe.evaluation.metrics  # noqa: F401 - the gate's import, inherited by the fork
    from lathe.registry.registry import open_registry

    context = multiprocessing.get_context("fork")  # start fast: the imports are inherited
    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for trial in range(trials):
            ready = context.Event()
            worker = context.Process(
                target=_churn, args=(url, str(blob_root), scratch, seed * 1000 + trial, ready)
            )
            worker.start()
            if not ready.wait(30):
                worker.kill()
                raise RuntimeError("the registry worker did not start")
            delay = rng.uniform(0, max_delay_s)
            time.sleep(delay)
            os.kill(worker.pid or 0, signal.SIGKILL)
            worker.join()
            # Evidence of where kills land: a partial blob left means mid-register.
            partial = sum(1 for _ in (Path(blob_root) / "tmp").glob("*.part"))
            with open_registry(url, blob_root) as registry:
                problems = registry.check_consistency()
                count = len(registry.list("m")) if registry.models() else 0
                events = len(registry.history("m")) if registry.models() else 0
            results.append(
                {
                    "trial": trial,
                    "delay_s": delay,
                    "versions": count,
                    "audit_events": events,
                    "partial_blobs_left": partial,
                    "problems": problems,
                }
            )
    return results


# ---- processes writing at once -----------------------------------------------------------
def _writer(url: str, blob_root: str, scratch: str, who: int, rounds: int, barrier: Any) -> None:
    from lathe.registry.registry import open_registry

    with open_registry(url, blob_root) as registry:
        barrier.wait()
        for step in range(rounds):
            path = fake_artifact(Path(scratch) / f"w{who}-{step}", seed=10_000 * (who + 1) + step)
            record = registry.register(path, name="m")
            registry.promote("m", record.version, force=True, reason=f"writer {who}")
            registry.promote("m", 1 + (step % 2), force=True, reason=f"writer {who}")


def concurrent_writers(
    url: str, blob_root: str | os.PathLike[str], *, processes: int = 2, rounds: int = 8
) -> None:
    """Run `processes` real processes that each register and promote `rounds` times at once."""
    import lathe.evaluation.metrics  # noqa: F401 - the gate's import, inherited by the fork
    from lathe.registry.registry import open_registry

    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as scratch:
        with open_registry(url, blob_root) as registry:
            for seed in (1, 2):  # versions 1 and 2 exist before the race starts
                registry.register(fake_artifact(Path(scratch) / f"base{seed}", seed=seed), name="m")
        barrier = context.Barrier(processes)
        workers = [
            context.Process(
                target=_writer, args=(url, str(blob_root), scratch, who, rounds, barrier)
            )
            for who in range(processes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        codes = [w.exitcode for w in workers]
        if any(code != 0 for code in codes):
            raise RuntimeError(f"a writer process failed (exit codes {codes})")


def champion_chain_problems(events: list[Any], alias: str = "champion") -> list[str]:
    """A lost update shows as an alias move whose `before` is not the previous `after`."""
    problems, previous = [], None
    for event in events:
        if event.alias != alias or event.action not in ("promote", "rollback"):
            continue
        if event.before["version"] != previous:
            problems.append(
                f"audit #{event.id}: before={event.before['version']} but the alias was {previous}"
            )
        previous = event.after["version"]
    return problems
