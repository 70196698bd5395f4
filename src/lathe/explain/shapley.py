"""Model-agnostic Shapley values by permutation sampling (Štrumbelj & Kononenko, 2014).

For each sampled permutation of the features and a background row z, walk the permutation
switching features from z to the explained row x one at a time; the change in the model
output at each switch is that feature's marginal contribution. Averaged over permutations,
these estimate Shapley values, and per permutation they sum exactly to f(x) - f(z) — so the
estimate is additive: contributions + base value (mean f(z)) = f(x).

Works on any frame (categoricals, text) because hybrid rows are built by taking each
column from either the explained row or the background row, never by arithmetic.

>>> import numpy as np, pandas as pd
>>> rows = pd.DataFrame({"a": [1.0], "b": [2.0]})
>>> background = pd.DataFrame({"a": [0.0], "b": [0.0]})
>>> f = lambda X: 3 * X["a"].to_numpy() + X["b"].to_numpy()  # linear: exact answer
>>> contrib, base = sampling_shapley(f, rows, background, n_permutations=8)
>>> contrib.round(6).tolist(), base.tolist()
([[3.0, 2.0]], [0.0])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["sampling_shapley"]


def _hybrids(row: pd.DataFrame, background: pd.DataFrame, order: np.ndarray,
             picks: np.ndarray) -> pd.DataFrame:
    """(m * (d + 1)) rows: for permutation m, step s takes the first s features of order[m]
    from `row` and the rest from background row picks[m]."""
    m, d = order.shape
    # rank[m, j] = position of feature j in permutation m; step s uses x where rank < s
    rank = np.argsort(order, axis=1)
    steps = np.arange(d + 1)
    from_row = rank[:, None, :] < steps[None, :, None]  # (m, d+1, d)
    from_row = from_row.reshape(m * (d + 1), d)
    source = pd.concat([row, background.iloc[picks]], ignore_index=True)
    fallback = np.repeat(1 + np.arange(m), d + 1)  # background row of each hybrid
    columns = {}
    for j, name in enumerate(row.columns):
        take = np.where(from_row[:, j], 0, fallback)
        columns[name] = source[name].iloc[take].reset_index(drop=True)
    return pd.DataFrame(columns)


def sampling_shapley(
    predict: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    n_permutations: int = 32,
    seed: int = 0,
    output_index: np.ndarray | None = None,
    batch_rows: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Shapley estimates for each row of `rows`: (contributions (n, d), base values (n,)).

    `predict` maps a frame to one number per row, or to a matrix from which column
    `output_index[i]` is explained for row i (e.g. the probability of its predicted class).
    Costs n * n_permutations * (d + 1) model evaluations, batched into few `predict` calls.
    """
    rng = np.random.default_rng(seed)
    n, d = rows.shape
    if d == 0 or len(background) == 0:
        raise ValueError("sampling_shapley needs at least one feature and one background row")
    per_row = n_permutations * (d + 1)
    chunk = max(1, batch_rows // per_row)
    contributions = np.zeros((n, d))
    base = np.zeros(n)
    for start in range(0, n, chunk):
        block = range(start, min(n, start + chunk))
        orders = [np.argsort(rng.random((n_permutations, d)), axis=1) for _ in block]
        frames = [_hybrids(rows.iloc[[i]], background, order,
                           rng.integers(0, len(background), size=n_permutations))
                  for i, order in zip(block, orders, strict=True)]
        out = np.asarray(predict(pd.concat(frames, ignore_index=True)), dtype=float)
        for j, (i, order) in enumerate(zip(block, orders, strict=True)):
            part = out[j * per_row:(j + 1) * per_row]
            if part.ndim == 2:
                part = part[:, 0 if output_index is None else int(output_index[i])]
            values = part.reshape(n_permutations, d + 1)
            gains = np.diff(values, axis=1)  # (m, d): gain of the feature switched at each step
            per_feature = np.zeros((n_permutations, d))
            np.put_along_axis(per_feature, order, gains, axis=1)
            contributions[i] = per_feature.mean(axis=0)
            base[i] = values[:, 0].mean()
    return contributions, base
