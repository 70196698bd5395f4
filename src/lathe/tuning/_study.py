"""Optuna plumbing: storage by URL, samplers and pruners by name, worker processes.

Storage rules (why they look like this):
  * `postgresql://` without a driver means psycopg 3 here (psycopg2 is not a dependency).
  * RDB storages get a heartbeat, so a trial whose process was killed is marked FAIL by the
    next process that joins the study instead of staying RUNNING forever (resume).
  * SQLite gets a generous lock timeout, since several local workers write to one file, and
    write-ahead logging with `synchronous=NORMAL`: Optuna commits several times per trial,
    and each full-sync commit is a disk flush (measured with a trivial objective and median
    pruning over 3 steps: 76 ms of storage work per trial, 30 ms with WAL + NORMAL). A crash
    can lose the last commits but not corrupt the file; a killed trial is failed and rerun
    anyway. (WAL needs a local disk: keep a shared study on PostgreSQL, not on a network
    file system.)
  * `sqlite:///:memory:` (or `memory:`) is Optuna's in-memory storage: nothing is kept, one
    process only. (SQLAlchemy's in-memory SQLite would give the heartbeat thread a database
    of its own, without the tables.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lathe.errors import ConfigError, Conflict, MissingDependency, StoreUnavailable, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SAMPLERS", "PRUNERS", "default_storage_url", "open_storage", "close_storage",
           "is_in_memory",
           "make_sampler", "make_pruner", "mask_url", "require_optuna", "quiet_optuna",
           "open_study", "trials_table"]

SAMPLERS = ("tpe", "random", "grid", "nsga2")
PRUNERS = ("median", "halving", "hyperband", "none")
HEARTBEAT_S = 5
GRACE_S = 15


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise MissingDependency("tuning needs optuna", hint="pip install 'lathe[tune]'") from err
    return optuna


def default_storage_url(root: Path | None = None) -> str:
    folder = (root or Path.cwd()) / ".lathe"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'tuning.db'}"


def mask_url(url: str) -> str:
    """The URL with any password replaced, safe to print and to store in a manifest.

    >>> mask_url("postgresql+psycopg://me:secret@db:5432/x")
    'postgresql+psycopg://me:***@db:5432/x'
    """
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _with_driver(url: str) -> str:
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_in_memory(url: str) -> bool:
    """
    >>> is_in_memory("sqlite:///:memory:"), is_in_memory("memory:"), is_in_memory("sqlite:///x.db")
    (True, True, False)
    """
    return url in ("memory:", "sqlite://", "sqlite:///") or ":memory:" in url


def open_storage(url: str) -> Any:
    optuna = require_optuna()
    if is_in_memory(url):
        return optuna.storages.InMemoryStorage()
    url = _with_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    try:
        with warnings.catch_warnings():
            # the heartbeat is marked experimental; resuming after a kill depends on it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                                 heartbeat_interval=HEARTBEAT_S,
                                                 grace_period=GRACE_S)
        if url.startswith("sqlite"):
            _fast_sqlite(storage.engine)
        return storage
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors vary by backend
        raise StoreUnavailable(
            f"cannot open the tuning storage {mask_url(url)}: {type(err).__name__}: {err}",
            hint="check the URL, that the database server runs and that its driver is installed",
            storage=mask_url(url)) from err


def _fast_sqlite(engine: Any) -> None:
    """WAL journal (persistent in the file) and NORMAL sync on every connection; the pool is
    emptied so that connections Optuna opened while creating its tables get them too."""
    from sqlalchemy import event

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()


def close_storage(storage: Any) -> None:
    """Close the storage's pooled connections (PostgreSQL drivers warn about leaked ones)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def make_sampler(name: str, *, seed: int, n_trials: int, grid: dict[str, list[Any]] | None) -> Any:
    optuna = require_optuna()
    if name == "tpe":
        # few startup trials when the budget is small: TPE learns only after them
        startup = max(3, min(10, n_trials // 4))
        with warnings.catch_warnings():
            # multivariate TPE models parameters jointly (learning rate and rounds interact);
            # Optuna marks the option experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup,
                                              multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid or {}, seed=seed)
    if name == "nsga2":
        population = max(4, min(50, n_trials // 4))
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    raise ConfigError(f"unknown sampler {name!r}; {did_you_mean(name, SAMPLERS)}",
                      hint=f"choose one of {', '.join(SAMPLERS)}", field="sampler")


def make_pruner(name: str, *, cv_folds: int | None) -> Any:
    optuna = require_optuna()
    # Steps are folds under cross-validation (prune after the first), else boosting rounds.
    warmup = 0 if cv_folds else 100
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1 if cv_folds else 25)
    if name == "hyperband":
        if cv_folds:
            return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=cv_folds)
        return optuna.pruners.HyperbandPruner(min_resource=25)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}; {did_you_mean(name, PRUNERS)}",
                      hint=f"choose one of {', '.join(PRUNERS)}", field="pruner")


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO; lathe reports progress itself."""
    optuna = require_optuna()
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def open_study(storage: Any, plan: Any) -> Any:
    """Create (or resume) the study `plan` names, refusing one set up differently."""
    optuna = require_optuna()
    try:
        study = optuna.create_study(
            storage=storage, study_name=plan.name, load_if_exists=True,
            directions=plan.directions,
            sampler=make_sampler(plan.sampler, seed=plan.seed, n_trials=plan.trials,
                                 grid=plan.grid),
            pruner=make_pruner(plan.pruner, cv_folds=plan.cv_folds))
    except ValueError as err:
        raise Conflict(f"study {plan.name!r} in {mask_url(plan.url)} cannot be reused: {err}",
                       hint="pass a new --study name") from err
    found = [d.name.lower() for d in study.directions]
    if found != plan.directions:
        raise Conflict(f"study {plan.name!r} optimises {found}, not {plan.directions}",
                       hint="pass a new --study name")
    return study


def trials_table(study: Any) -> pd.DataFrame:
    """One row per trial: number, value(s), state, times, params_*, user_attrs_*."""
    table = study.trials_dataframe()
    return table.drop(columns=[c for c in table.columns if c.startswith("system_attrs")])
