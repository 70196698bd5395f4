"""`gbm`: LightGBM with native categoricals and early stopping on the validation split.

>>> import pandas as pd, numpy as np
>>> from lathe.data.infer import infer_schema, encode_labels
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("abc"), 400)})
>>> frame["y"] = np.where(frame.x + (frame.c == "a") > 0.5, "hi", "lo")
>>> schema = infer_schema(frame, "y"); X, _ = schema.conform(frame)
>>> model = GBM(n_estimators=50).fit(FitData(schema, X, encode_labels(frame.y, schema)))
>>> model.predict_raw(X).shape
(400, 2)
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np
import pandas as pd

from lathe.data.schema import DATETIME_PARTS, Schema
from lathe.models._base import (
    FAMILIES,
    Callback,
    FitData,
    MatrixPath,
    ModelFamily,
    without_validation,
)
from lathe.models._text_features import TextSVD
from lathe.models._threads import fit_threads, prefer_passive_openmp
from lathe.models._value_counts import ValueCounts

__all__ = ["GBM", "import_lightgbm"]

# Parameters lathe reads itself; the rest go to LightGBM.
LATHE_ONLY_PARAMS = ("n_estimators", "early_stopping_rounds", "value_counts")


def import_lightgbm() -> Any:
    """LightGBM, its OpenMP threads set to sleep while they wait (`lathe.models._threads`)."""
    prefer_passive_openmp()
    import lightgbm

    return lightgbm


@FAMILIES.register("gbm")
class GBM(ModelFamily):
    name = "gbm"
    prune_unit = "trees"
    param_types = {
        "learning_rate": float, "num_leaves": int, "min_child_samples": int,
        "feature_fraction": float, "bagging_fraction": float, "bagging_freq": int,
        "lambda_l2": float, "n_estimators": int, "early_stopping_rounds": int, "max_bin": int,
        "cat_smooth": float, "min_data_per_group": int, "value_counts": bool}
    params_note = "and any LightGBM parameter"

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 20,
            "feature_fraction": 0.9,
            "bagging_fraction": 1.0,
            "bagging_freq": 0,
            "lambda_l2": 0.0,
            "n_estimators": 3000,
            "early_stopping_rounds": 100,
            "max_bin": 255,
            "cat_smooth": 10.0,
            "min_data_per_group": 100,
            # add how often each value occurs as a feature (see _value_counts.py)
            "value_counts": False,
        }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # checks the declared types (value_counts: true or false)
        self.booster: Any = None
        self.text: TextSVD | None = None
        self.counts: ValueCounts | None = None
        # the feature frame's column names, and the names LightGBM was given where they
        # differ (it rejects JSON characters and rewrites whitespace in feature names)
        self.feature_columns: list[str] | None = None
        self.booster_names: list[str] | None = None
        self.best_iteration: int = 0

    @classmethod
    def accepts_param(cls, key: str) -> bool:
        """Any LightGBM parameter or alias (LightGBM checks their values itself)."""
        names = _lightgbm_names()
        return names is None or key in names

    def _lgb_params(self, data: FitData) -> dict[str, Any]:
        schema = data.schema
        params = {
            k: v
            for k, v in self.params.items()
            if k not in LATHE_ONLY_PARAMS
        }
        if schema.task == "binary":
            params.update(objective="binary", metric="binary_logloss")
        elif schema.task == "multiclass":
            params.update(
                objective="multiclass", metric="multi_logloss", num_class=schema.n_classes
            )
        else:
            params.update(objective="regression", metric="rmse")
        params.update(
            verbosity=-1,
            seed=data.seed,
            deterministic=True,
            force_row_wise=True,
            num_threads=fit_threads(data.threads),
        )
        return params

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        """`X` as the booster sees it: value counts, text SVD parts, LightGBM-safe names."""
        if self.counts is not None:
            X = self.counts.transform(X)
        if self.text is not None:
            X = self.text.transform(X)
        return X.set_axis(self.booster_names, axis=1) if self.booster_names else X

    def feature_names(self) -> list[str]:
        """The booster's features, in its order, under the feature frame's own names."""
        return self.feature_columns or list(self.booster.feature_name())

    def fit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> Self:
        lgb = import_lightgbm()

        self.schema = data.schema
        self.rows_fitted = len(data.X_train)
        if data.schema.names_of("text"):
            self.text = TextSVD(data.schema, seed=data.seed).fit(data.X_train)
        self.counts = None
        if self.params.get("value_counts"):
            self.counts = ValueCounts.fit(data.X_train, data.schema)
        self.booster_names = None
        X_train = self._features(data.X_train)
        self.feature_columns = [str(c) for c in X_train.columns]
        safe = lightgbm_names(self.feature_columns)
        if safe != self.feature_columns:
            self.booster_names = safe
            X_train = X_train.set_axis(safe, axis=1)
        from lathe.models._engine import current_client

        if (client := current_client()) is not None:  # lathe train --engine dask://...
            from lathe.models._gbm_dask import dask_train

            X_valid = None if data.X_valid is None else self._features(data.X_valid)
            self.booster, self.best_iteration, metric, curve = dask_train(
                client, self._lgb_params(data), str(data.schema.task), X_train, data.y_train,
                data.sample_weight, X_valid, data.y_valid, int(self.params["n_estimators"]),
                int(self.params["early_stopping_rounds"]))
            if curve and metric:
                self.learning_curve_metric, self.learning_curve = metric, curve
            return self
        train_set = lgb.Dataset(
            X_train, data.y_train, weight=data.sample_weight, free_raw_data=False
        )
        valid_sets: list[Any] = []
        lgb_callbacks: list[Callable[..., Any]] = []
        history: dict[str, Any] = {}
        if data.X_valid is not None and data.y_valid is not None and len(data.X_valid):
            valid_sets = [
                lgb.Dataset(self._features(data.X_valid), data.y_valid, reference=train_set)
            ]
            lgb_callbacks.append(
                lgb.early_stopping(int(self.params["early_stopping_rounds"]), verbose=False)
            )
            lgb_callbacks.append(lgb.record_evaluation(history))
        started = time.monotonic()

        def report(env: Any) -> None:
            if env.iteration % 25 == 0:
                info = {"round": env.iteration, "total": env.end_iteration}
                for cb in callbacks:
                    cb("round", info)
            if data.time_budget_s and time.monotonic() - started > data.time_budget_s:
                raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

        lgb_callbacks.append(report)
        self.booster = lgb.train(
            self._lgb_params(data),
            train_set,
            num_boost_round=int(self.params["n_estimators"]),
            valid_sets=valid_sets,
            valid_names=["valid"] if valid_sets else None,
            callbacks=lgb_callbacks,
        )
        self.best_iteration = self.booster.best_iteration or self.booster.current_iteration()
        if history.get("valid"):
            metric, values = next(iter(history["valid"].items()))
            self.learning_curve_metric, self.learning_curve = metric, [float(v) for v in values]
        return self

    def refit_seconds(self, rows: int) -> float | None:
        """Rows and rounds both grow by the row ratio: the cost by its square."""
        if self.fit_seconds is None or not self.rows_fitted:
            return None
        return self.fit_seconds * (rows / self.rows_fitted) ** 2

    def refit(self, data: FitData, callbacks: Sequence[Callback] = ()) -> GBM | None:
        """The early-stopped number of rounds, scaled by how many more rows the refit sees
        (as the boosting path lengthens with data), on every row of `data`."""
        # a loaded booster holds exactly its best rounds (best_iteration 0 means all)
        kept = self.best_iteration or (self.booster.current_iteration() if self.booster else 0)
        if not kept or not self.rows_fitted:
            return None
        rounds = max(1, round(kept * len(data.X_train) / self.rows_fitted))
        model = GBM(**{**self.params, "n_estimators": rounds})
        model.fit(without_validation(data), callbacks)
        if model.best_iteration < rounds:
            return None  # the time budget cut it short: a truncated refit would be worse
        model.learning_curve = self.learning_curve  # the curve that chose the rounds
        model.learning_curve_metric = self.learning_curve_metric
        return model

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return self._as_raw(self.booster.predict(self._features(X),
                                                 num_iteration=self.best_iteration))

    def _as_raw(self, raw: np.ndarray) -> np.ndarray:
        """The booster's output as `predict_raw`'s: a binary booster's one probability
        becomes the two class columns."""
        if self.schema is not None and self.schema.task == "binary":
            return np.column_stack([1 - raw, raw])
        return np.asarray(raw)

    # ---- capabilities --------------------------------------------------------------------
    @property
    def has_tree_contributions(self) -> bool:
        return self.booster is not None

    def tree_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """LightGBM's TreeSHAP (`pred_contrib`) per input column: log-odds for binary, each
        class's raw score (before softmax) for multiclass, the value for regression. Text SVD
        parts and value counts fold into their column; date parts stay apart, as they are
        columns of the conformed frame themselves."""
        names = self.feature_names()
        raw = np.asarray(self.booster.predict(self._features(X), pred_contrib=True,
                                              num_iteration=self.best_iteration or None))
        per_class = raw.reshape(len(X), -1, len(names) + 1)
        folded = [self.input_column(n) for n in names]
        columns = [c for c in X.columns if c in set(folded)]
        fold = np.zeros((len(names), len(columns)))
        fold[np.arange(len(names)), [columns.index(c) for c in folded]] = 1.0
        return per_class[:, :, :-1] @ fold, per_class[:, :, -1], columns

    def matrix_path(self) -> MatrixPath | None:
        """Rows of numeric, boolean and categorical columns go to the booster as one matrix
        (categories coded as LightGBM's pandas categories); None with text or value-count
        features, or any other column kind."""
        schema, booster = self.schema, self.booster
        if schema is None or booster is None or self.text is not None:
            return None
        if any(c.kind not in ("numeric", "boolean", "categorical") for c in schema.columns):
            return None
        if self.feature_names() != schema.model_columns():
            return None
        categorical = schema.names_of("categorical")
        tables = getattr(booster, "pandas_categorical", None) or []
        if len(tables) != len(categorical):
            return None
        codes = {name: {str(c): i for i, c in enumerate(cats)}
                 for name, cats in zip(categorical, tables, strict=True)}
        iteration = self.best_iteration

        def predict(matrix: np.ndarray) -> np.ndarray:
            # One OpenMP thread per call: for small batches thread start-up costs more than
            # it saves (0.18 ms vs 0.02 ms for one Adult row); parallelism comes from the pool.
            return self._as_raw(booster.predict(matrix, num_iteration=iteration, num_threads=1))

        return MatrixPath(codes, predict)

    def tree_count(self) -> int:
        return int(self.booster.current_iteration())

    def predict_raw_by_trees(self, X: pd.DataFrame, counts: Sequence[int]) -> list[np.ndarray]:
        """`predict_raw` with the first k trees, for each k of `counts` (the features are
        computed once): what choosing a number of rounds on held-out rows compares."""
        features = self._features(X)
        return [self._as_raw(self.booster.predict(features, num_iteration=k)) for k in counts]

    def use_trees(self, count: int) -> None:
        self.best_iteration = int(count)

    def feature_importance(self) -> dict[str, float]:
        gains = self.booster.feature_importance(importance_type="gain")
        names = self.feature_names()
        out: dict[str, float] = {}
        for name, gain in zip(names, gains, strict=True):
            base = self.input_column(name, fold_dates=True)
            out[base] = out.get(base, 0.0) + float(gain)
        total = sum(out.values()) or 1.0
        return dict(sorted(((k, v / total) for k, v in out.items()), key=lambda kv: -kv[1]))

    def input_column(self, feature: str, *, fold_dates: bool = False) -> str:
        """The input column a booster feature comes from: text SVD components and value
        counts fold into their column, date parts too with `fold_dates`; anything else is
        its own column (names with `__` in them included)."""
        if self.counts is not None and (counted := self.counts.source_column(feature)):
            return counted
        if self.text is not None and (text := self.text.source_column(feature)):
            return text
        column, sep, part = feature.rpartition("__")
        if (fold_dates and sep and self.schema is not None and part in DATETIME_PARTS
                and column in self.schema.names_of("datetime")):
            return column
        return feature

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        text = self.booster.model_to_string(num_iteration=self.best_iteration)
        # the thread count of the fit follows the machine's load (lathe.models._threads) and
        # does not change the trees; the file records 0 ("OpenMP's default"), as it always
        # did, so that the same data and settings give the same artifact bytes
        text = re.sub(r"^\[num_threads: \d+\]$", "[num_threads: 0]", text, count=1,
                      flags=re.MULTILINE)
        (directory / "lightgbm.txt").write_text(text, encoding="utf-8")
        (directory / "gbm.json").write_text(
            json.dumps(
                {
                    "params": self.params,
                    "best_iteration": self.best_iteration,
                    "rows_fitted": self.rows_fitted,
                    "feature_columns": self.feature_columns,
                    "booster_names": self.booster_names,
                    "learning_curve": self.learning_curve,
                    "learning_curve_metric": self.learning_curve_metric,
                },
                default=str,
            )
        )
        if self.text is not None:
            joblib.dump(self.text, directory / "text_features.joblib")
        if self.counts is not None:
            self.counts.save(directory)

    @classmethod
    def load(cls, directory: Path, schema: Schema) -> Self:
        lgb = import_lightgbm()

        meta = json.loads((directory / "gbm.json").read_text())
        model = cls(**meta["params"])
        model.schema = schema
        model.booster = lgb.Booster(model_file=str(directory / "lightgbm.txt"))
        model.best_iteration = 0  # the saved file holds exactly the best iterations
        model.rows_fitted = int(meta.get("rows_fitted", 0))
        model.feature_columns = meta.get("feature_columns")  # None in artifacts saved before names were kept
        model.booster_names = meta.get("booster_names")
        model.learning_curve = meta.get("learning_curve", [])
        model.learning_curve_metric = meta.get("learning_curve_metric", "")
        if (directory / "text_features.joblib").exists():
            model.text = joblib.load(directory / "text_features.joblib")
        model.counts = ValueCounts.load(directory)
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "bagging_freq": 1,
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }


@functools.cache
def _lightgbm_names() -> frozenset[str] | None:
    """Every parameter name and alias LightGBM knows (from its C library's own table); None
    where this LightGBM has no such table (then LightGBM alone checks the names)."""
    from lightgbm.basic import _ConfigAliases

    try:
        table = _ConfigAliases._get_all_param_aliases()
    except AttributeError:  # pragma: no cover - depends on the LightGBM version
        return None
    return frozenset(table) | frozenset(a for aliases in table.values() for a in aliases)


_UNSAFE = re.compile(r'[\s",:\[\]{}]')


def lightgbm_names(columns: Sequence[str]) -> list[str]:
    """Feature names LightGBM accepts as they are: it refuses JSON characters, rewrites
    whitespace to `_` (so `a b` and `a_b` would collide) and refuses a name twice (a numeric
    column `t__svd0` beside the SVD parts of a text column `t`). Unsafe characters become
    `_`, and a name taken already gets a number.

    >>> lightgbm_names(["price, usd", "a b", "a_b", "ok", "ok"])
    ['price__usd', 'a_b_2', 'a_b', 'ok', 'ok_2']
    """
    out: list[str] = []
    # names that stay as they are keep them, first come first served
    taken: set[str] = set()
    keeps = []
    for column in columns:
        keep = not _UNSAFE.search(column) and column not in taken
        keeps.append(keep)
        if keep:
            taken.add(column)
    for column, keep in zip(columns, keeps, strict=True):
        if keep:
            out.append(column)
            continue
        base = _UNSAFE.sub("_", column)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out
