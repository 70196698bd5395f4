"""The private side of a training run (`--dp-epsilon`): refuse what cannot be private, buy
DP-safe preprocessing, hand the DP-SGD plan to the family, and write `manifest["privacy"]`.

What changes when a run is private: the family must declare `private_training` (mlp,
linear); regression labels are refused, text columns dropped (with a note) and the refit on
every row turned off (a refit would spend the budget twice); the data profile kept for drift checks is not
saved (it is a histogram of the training rows); the schema's vocabularies and missing shares
are those bought with the budget (`lathe.privacy.dp.preprocess`).

>>> from lathe.config import load_config
>>> private_config(load_config(None, train__model="gbm", privacy__epsilon=1.0))
Traceback (most recent call last):
...
lathe.errors.UsageError: --dp-epsilon: the gbm family cannot be trained privately. Fix: use --model linear or --model mlp (linear and mlp can be trained privately)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from lathe.config import LatheConfig, PrivacyConfig
from lathe.data.schema import Schema
from lathe.errors import UsageError
from lathe.models import FAMILY_NAMES, get_family

__all__ = ["private_config", "prepare_private", "privacy_section"]


def private_config(cfg: LatheConfig) -> PrivacyConfig | None:
    """The privacy settings when the run is private (checked before any work), else None."""
    if cfg.privacy.epsilon is None:
        return None
    name = cfg.train.model
    able = [n for n in FAMILY_NAMES if get_family(n).private_training]
    if name == "auto" or not get_family(name).private_training:
        what = "--model auto picks a family that" if name == "auto" else f"the {name} family"
        raise UsageError(f"--dp-epsilon: {what} cannot be trained privately",
                         hint=f"use {' or '.join('--model ' + n for n in able)} "
                              f"({' and '.join(able)} can be trained privately)")
    return cfg.privacy


def prepare_private(settings: PrivacyConfig, schema: Schema, X_train: pd.DataFrame,
                    family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Buy the preprocessing and plan DP-SGD: (FitData.extra["dp"], the budget record).
    Rewrites `schema` in place (vocabularies, missing shares): conform the rows again before
    fitting, so their category codes follow the private vocabularies."""
    from lathe.privacy.dp import plan_budget
    from lathe.privacy.dp.preprocess import paid_columns, private_preprocessing

    if schema.task == "regression":
        raise UsageError("--dp-epsilon: private training supports classification labels; "
                         f"{schema.target!r} is numeric (regression)",
                         hint="train without --dp-epsilon, or bin the label into classes")
    text = schema.names_of("text")
    if text:  # a TF-IDF vocabulary learned from the rows would publish their words
        if len(text) == len(schema.columns):
            raise UsageError(f"--dp-epsilon: a private {family} model cannot use text "
                             f"columns, and {text} are all the features",
                             hint="train without --dp-epsilon, or add tabular columns")
        schema.columns = [c for c in schema.columns if c.kind != "text"]
        for col in text:
            schema.dropped[col] = "free text: not used by a private model"
        schema.notes.append(f"dropped text column(s) {text}: a private model learns no "
                            "vocabulary from the rows")
        X_train = X_train.drop(columns=[c for c in text if c in X_train.columns])
    for col in list(settings.bounds) + list(settings.categories):
        if col not in schema.feature_names:
            raise UsageError(f"privacy: no feature column {col!r} (in privacy.bounds or "
                             "privacy.categories)", hint=f"columns are {schema.feature_names}",
                             field="privacy")
    numeric, categorical = paid_columns(schema, X_train, settings.bounds, settings.categories)
    plan = plan_budget(settings.epsilon or 0.0, settings.delta, n_rows=len(X_train),
                       share=settings.preprocessing_share,
                       needs_epsilon=bool(numeric or categorical), needs_delta=bool(categorical))
    bounds, record = private_preprocessing(
        schema, X_train, epsilon=plan.preprocessing_epsilon, delta=plan.preprocessing_delta,
        bounds=settings.bounds, categories=settings.categories)
    lr = settings.lr if settings.lr is not None else (2e-3 if family == "mlp" else 5e-3)
    sgd = {"epsilon": plan.training_epsilon, "delta": plan.training_delta,
           "epochs": settings.epochs, "batch_size": settings.batch_size,
           "max_grad_norm": settings.max_grad_norm, "lr": lr,
           "accountant": settings.accountant}
    return {"bounds": bounds, "sgd": sgd}, {"plan": plan.to_dict(), "preprocessing": record}


def privacy_section(trained: dict[str, Any], budget: dict[str, Any]) -> dict[str, Any]:
    """manifest["privacy"]: the whole run's (epsilon, delta) spent, by part (basic
    composition: preprocessing + training), and how each part was spent."""
    plan, pre = budget["plan"], budget["preprocessing"]
    spent = pre["epsilon"] + trained["epsilon"]
    return {
        "epsilon": spent, "delta": plan["delta"], "target_epsilon": plan["epsilon"],
        "accountant": trained["accountant"], "mechanism": trained["mechanism"],
        "composition": "basic: preprocessing + training",
        "noise_multiplier": trained["noise_multiplier"],
        "max_grad_norm": trained["max_grad_norm"], "sample_rate": trained["sample_rate"],
        "epochs": trained["epochs"], "steps": trained["steps"],
        "training": {k: v for k, v in trained.items() if k != "validation_curve"},
        "preprocessing": pre,
        "covers": "the rows of the train split; validation rows only report a curve (fixed "
                  "epochs, the last one kept), test rows are only scored",
    }
