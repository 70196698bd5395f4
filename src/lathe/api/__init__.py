"""The Python API: one function per verb, thin orchestration over the packages below.

Every verb that makes something returns a result with `.save(out)`: `train` a Model,
`tune` a TuneResult, `compress` a CompressionResult, `explain` an Explanation, `compare` a
Leaderboard; given `out=`, the verb saves it there itself and refuses an existing artifact
unless `force=True`. The CLI (`lathe.cli`) is a thin layer over these functions; nothing
else in lathe imports this module.

>>> import lathe  # doctest: +SKIP
>>> model = lathe.train("examples/data/adult.csv", target="income")  # doctest: +SKIP
>>> model.evaluate("holdout.csv")["roc_auc"]  # doctest: +SKIP
>>> model.save("models/adult")  # doctest: +SKIP
>>> default_out("data/churn.csv", suffix="-tuned")
PosixPath('models/churn-tuned')
"""

from __future__ import annotations

from typing import Any

from lathe.artifact import checkpoints_dir, default_out  # noqa: F401 - the CLI asks api

from ._operate import (  # noqa: F401 - re-exported: the CLI calls them as lathe.api.NAME
    decide,
    experiment_analyze,
    experiment_list,
    experiment_plan,
    experiment_start,
    experiment_stop,
    monitor_drift,
    monitor_performance,
    monitor_run,
    retrain,
)
from ._privacy import (  # noqa: F401 - re-exported
    parse_bounds,
    pii_scan,
    privacy_audit,
    privacy_mask,
    privacy_stats,
)
from ._scale import predict_on_engine  # noqa: F401 - re-exported
from ._secure import (  # noqa: F401 - re-exported
    keys_new,
    keys_rotate,
    keys_sign,
    keys_verify,
    registry_grant,
    registry_grants,
    registry_revoke,
)
from ._validate import validate  # noqa: F401 - re-exported
from ._verbs import (  # noqa: F401 - re-exported
    check,
    compare,
    compress,
    evaluate,
    explain,
    load,
    predict,
    register,
    train,
    tune,
)

__all__ = [
    "Model", "Metrics", "train", "load", "evaluate", "predict", "check", "tune", "compress",
    "explain", "register", "compare", "decide", "validate",
]


def __getattr__(name: str) -> Any:
    # pandas, scikit-learn and the model layer load on first use, not when the CLI imports
    # this package: `lathe experiment analyze` on a million rows pays for what it uses only
    if name in ("Model", "Metrics"):
        from lathe import model

        return getattr(model, name)
    raise AttributeError(f"module 'lathe.api' has no attribute {name!r}")
