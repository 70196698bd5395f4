"""The gbm family's fit on a Dask cluster, with LightGBM's own Dask estimators.

The training rows are split into one partition per worker (`dask.dataframe.from_pandas`,
categoricals keep their categories, so every worker codes them alike); LightGBM's workers
build the trees together over its socket network and `to_local()` hands back an ordinary
booster, so the artifact is the one a single process writes.

`lightgbm.dask` has no early stopping, so the validation rows go in as an eval set and early
stopping is replayed on the recorded curve (the same rule: stop after `patience` rounds
without a better score, keep the best round), and the booster is cut to that round. The
curve is the validation rows held by the worker that returns the model (its partitions).

>>> replay_early_stopping([0.5, 0.4, 0.45, 0.41, 0.39, 0.38], patience=2)
2
>>> replay_early_stopping([0.5, 0.4, 0.45, 0.39, 0.38], patience=5)
5
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["dask_train", "replay_early_stopping"]


def replay_early_stopping(curve: Sequence[float], patience: int) -> int:
    """The round (1-based) LightGBM's early stopping would keep on a lower-is-better curve."""
    best, best_round = float("inf"), 0
    for i, value in enumerate(curve):
        if value < best:
            best, best_round = value, i + 1
        elif i + 1 - best_round >= patience:
            break
    return best_round or len(curve)


def _frames(X: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None, parts: int) -> tuple[
        Any, Any, Any]:
    import dask.dataframe as dd

    X = X.reset_index(drop=True)
    chunk = max(1, -(-len(X) // parts))
    Xd = dd.from_pandas(X, chunksize=chunk, sort=True)
    yd = dd.from_pandas(pd.Series(y, name="y"), chunksize=chunk, sort=True)
    wd = None if weight is None else dd.from_pandas(pd.Series(weight, name="w"),
                                                    chunksize=chunk, sort=True)
    return Xd, yd, wd


def dask_train(client: Any, params: dict[str, Any], task: str, X: pd.DataFrame,
               y: np.ndarray, weight: np.ndarray | None, X_valid: pd.DataFrame | None,
               y_valid: np.ndarray | None, rounds: int, patience: int) -> tuple[
                   Any, int, str | None, list[float]]:
    """(local booster, kept rounds, curve metric, curve) of a fit on `client`'s workers."""
    import lightgbm
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

    from lathe.models._engine import worker_count

    parts = worker_count(client)
    settings = {k: v for k, v in params.items() if k not in ("num_class", "num_threads")}
    estimator_type = DaskLGBMRegressor if task == "regression" else DaskLGBMClassifier
    estimator = estimator_type(client=client, n_estimators=rounds, **settings)
    Xd, yd, wd = _frames(X, y, weight, parts)
    fit_args: dict[str, Any] = {"sample_weight": wd}
    if X_valid is not None and y_valid is not None and len(X_valid):
        Xv, yv, _ = _frames(X_valid, y_valid, None, parts)
        fit_args.update(eval_X=(Xv,), eval_y=(yv,))
    # this process's LightGBM notes ("Finding random open ports") go to stderr, never into a
    # --json stdout; n_jobs (the sklearn default) is replaced by each worker's threads
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        estimator.fit(Xd, yd, **fit_args)
    booster = estimator.to_local().booster_
    metric, curve = None, []
    history = getattr(estimator, "evals_result_", None) or {}
    if history:
        metric, values = next(iter(next(iter(history.values())).items()))
        curve = [float(v) for v in values]
    kept = replay_early_stopping(curve, patience) if curve else booster.current_iteration()
    if kept < booster.current_iteration():
        booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=kept))
    return booster, kept, metric, curve[:kept]
