"""Where a fit or a batch prediction runs: this process (the default) or a Dask cluster.

    with use_engine("dask://local?workers=2"):      # starts a LocalCluster, closes it after
        model = lathe.train(frame, "income", model="gbm")
    with use_engine("dask://10.0.0.5:8786"):         # a running scheduler
        ...

Inside, `current_client()` is the `distributed.Client`; the gbm family fits with LightGBM's
own Dask estimators (`lightgbm.dask`) when there is one, and `lathe predict --engine` scores
partitions as Dask tasks. The engine is a context variable, so a model family asks for it
without any argument passing through training; nothing else changes: the artifact is the
same as a single-process one.

>>> parse_engine("dask://local?workers=3")
('local', 3)
>>> parse_engine("dask://scheduler:8786")
('tcp://scheduler:8786', 0)
>>> parse_engine("spark://x")
Traceback (most recent call last):
...
lathe.errors.UsageError: --engine spark://x: use dask://local?workers=N or dask://HOST:PORT. Fix: e.g. --engine dask://local?workers=2
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lathe.errors import MissingDependency, StoreUnavailable, UsageError

__all__ = ["parse_engine", "use_engine", "current_client"]

_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("lathe_dask_client", default=None)


def parse_engine(url: str) -> tuple[str, int]:
    """(scheduler address or 'local', local worker count) of a dask:// URL."""
    parts = urlsplit(url)
    if parts.scheme != "dask" or not parts.netloc:
        raise UsageError(f"--engine {url}: use dask://local?workers=N or dask://HOST:PORT",
                         hint="e.g. --engine dask://local?workers=2")
    if parts.netloc == "local":
        raw = parse_qs(parts.query).get("workers", ["2"])[0]
        if not raw.isdigit() or not 1 <= int(raw) <= (os.cpu_count() or 1) * 4:
            raise UsageError(f"--engine {url}: workers must be 1 to {(os.cpu_count() or 1) * 4}, "
                             f"got {raw!r}", hint="e.g. dask://local?workers=2")
        return "local", int(raw)
    return f"tcp://{parts.netloc}", 0


def current_client() -> Any:
    """The Dask client of the running `use_engine` block, or None (this process)."""
    return _CLIENT.get()


@contextlib.contextmanager
def use_engine(url: str | None, timeout_s: float = 10.0) -> Iterator[Any]:
    """Run the block on the engine `url` (None: this process). A scheduler that does not
    answer within `timeout_s` is a StoreUnavailable (exit 69) naming it."""
    if url is None:
        yield None
        return
    address, workers = parse_engine(url)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MissingDependency("--engine dask:// needs Dask's distributed scheduler",
                                hint="pip install 'lathe[dask]'") from None
    cluster = None
    if address == "local":
        # the workers inherit this stdout: give them stderr, so what they print (LightGBM's
        # C++ network notes) never lands in a --json stdout
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=timeout_s)
        except (OSError, TimeoutError) as error:
            raise StoreUnavailable(
                f"the Dask scheduler at {address} does not answer ({type(error).__name__})",
                hint="start one (dask scheduler; dask worker ADDRESS) or use "
                "--engine dask://local?workers=2", scheduler=address) from None
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)
        client.close()
        if cluster is not None:
            cluster.close()


def worker_count(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
