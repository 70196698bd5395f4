"""Scoring a fitted model on labelled rows: the one place that turns a family's output into
the metrics a manifest records (`lathe train`'s and `lathe tune`'s test split) and
`Model.evaluate` reports, catch-all metrics included where the model routes to a catch-all
class.

>>> import numpy as np, pandas as pd
>>> from lathe.data.schema import Schema
>>> from lathe.models import FitData, get_family
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=60)})
>>> y = (X.x > 0).astype(int).to_numpy()
>>> schema = Schema.from_dict({"target": "y", "task": "binary", "classes": [0, 1],
...                            "columns": [{"name": "x", "kind": "numeric"}]})
>>> family = get_family("linear")().fit(FitData(schema, X, y))
>>> test = score_split(family, schema, X, y)
>>> test["n_rows"], test["accuracy"] > 0.9
(60, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lathe.evaluation.metrics import compute_metrics

if TYPE_CHECKING:
    import pandas as pd

    from lathe.data.schema import Schema
    from lathe.models import ModelFamily

__all__ = ["family_metrics", "score_split"]


def family_metrics(family: ModelFamily, schema: Schema, y_true: np.ndarray,
                   raw: np.ndarray) -> dict[str, Any]:
    """Every metric of the task for `raw` (the family's `predict_raw` on the rows of
    `y_true`), with `catch_all` metrics when the family routes to a catch-all class."""
    return compute_metrics(schema.task or "regression", y_true, raw, schema.classes,
                           family.catch_all_index(), schema.positive_index)


def score_split(family: ModelFamily, schema: Schema, X: pd.DataFrame,
                y_true: np.ndarray) -> dict[str, Any]:
    """Metrics of `family` on one held-out split (conformed `X`, encoded labels) plus
    `n_rows`; {} when the split is empty (a run with test_size 0)."""
    if not len(X):
        return {}
    out = family_metrics(family, schema, y_true, family.predict_raw(X))
    out["n_rows"] = int(len(X))
    return out
