"""Membership inference: how well can someone tell a model's training rows from other rows
of the same kind, using only its predictions?

Two attacks, scored on equal numbers of members and non-members:

- `loss_threshold` (Yeom et al. 2018): a row is called a member when the model's loss on it
  is low (score = log-probability of the true class; minus the squared error for regression).
- `lira_offline` (Carlini et al. 2022, the offline variant): `shadows` reference models of
  the same family and parameters (and, for a private model, the same DP-SGD settings) are
  fitted on random halves of a population split of the non-members, none of which are
  scored. A row's logit-scaled confidence is compared with the reference models' (mean, and
  a variance pooled over rows as the paper advises for few shadows): score = (phi - mu)/sigma.

Each attack reports AUC, TPR at 1 % FPR and the membership advantage max(TPR - FPR), with 95 %
bootstrap intervals. For a private model the report adds what (epsilon, delta)-DP allows at
most: TPR <= e^eps FPR + delta, advantage <= (e^eps - 1 + 2 delta)/(e^eps + 1).

>>> import numpy as np
>>> summary = attack_metrics(np.r_[np.ones(50), np.zeros(50)], np.r_[np.ones(50), np.zeros(50)])
>>> summary["auc"], summary["advantage"], summary["tpr_at_1pct_fpr"]
(1.0, 1.0, 1.0)
>>> dp_limits(1.0, 1e-5)["advantage_max"]
0.4621
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lathe.errors import DataError, UsageError

__all__ = ["membership_audit", "attack_metrics", "dp_limits"]

MAX_SHADOWS = 16
FitReference = Callable[[pd.DataFrame, np.ndarray, int, dict[str, Any]], Any]


def dp_limits(epsilon: float, delta: float) -> dict[str, float]:
    """The most an attack can reach against an (epsilon, delta)-DP training run."""
    e = math.exp(epsilon)
    return {"tpr_at_1pct_fpr_max": round(min(1.0, e * 0.01 + delta), 4),
            "advantage_max": round((e - 1 + 2 * delta) / (e + 1), 4)}


def _roc(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    low = tpr[fpr <= 0.01]
    return (float(roc_auc_score(labels, scores)), float(low.max()) if len(low) else 0.0,
            float((tpr - fpr).max()))


def attack_metrics(labels: np.ndarray, scores: np.ndarray, *, bootstrap: int = 200,
                   seed: int = 0) -> dict[str, Any]:
    """AUC, TPR at 1 % FPR and advantage, each with a 95 % (percentile) bootstrap interval
    that resamples members and non-members separately."""
    auc, tpr, adv = _roc(labels, scores)
    rng = np.random.default_rng(seed)
    members, others = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    draws = []
    for _ in range(bootstrap):
        pick = np.r_[rng.choice(members, len(members)), rng.choice(others, len(others))]
        draws.append(_roc(labels[pick], scores[pick]))
    table = np.asarray(draws) if draws else np.asarray([[auc, tpr, adv]])
    lo, hi = np.percentile(table, [2.5, 97.5], axis=0)
    lo, hi = lo.tolist(), hi.tolist()
    return {"auc": round(auc, 4), "auc_ci": [round(lo[0], 4), round(hi[0], 4)],
            "tpr_at_1pct_fpr": round(tpr, 4), "tpr_at_1pct_fpr_ci": [round(lo[1], 4),
                                                                      round(hi[1], 4)],
            "advantage": round(adv, 4), "advantage_ci": [round(lo[2], 4), round(hi[2], 4)]}


def _xy(model: Any, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    from lathe.data.infer import encode_labels

    target = model.schema.target
    if target not in frame.columns:
        raise DataError(f"{source}: no label column {target!r}; the audit needs the true "
                        "labels of every row", hint=f"add the {target!r} column", file=source,
                        column=target)
    frame = frame[frame[target].notna()]
    X, _ = model.schema.conform(frame, source=source)
    return X, np.asarray(encode_labels(frame[target], model.schema, source=source))


def _scores(family: Any, schema: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """(loss-attack score, logit-scaled confidence) per row."""
    raw = np.asarray(family.predict_raw(X), dtype=float)
    if schema.task == "regression":
        err = -((raw.reshape(len(y), -1)[:, 0] - y) ** 2)
        return err, err
    p = np.clip(raw[np.arange(len(y)), y.astype(int)], 1e-12, 1 - 1e-12)
    return np.log(p), np.log(p) - np.log1p(-p)


def _shadow_data(model: Any) -> dict[str, Any]:
    """FitData.extra for a shadow fit: the model's DP-SGD settings when it is private."""
    privacy = model.manifest.get("privacy")
    if not privacy:
        return {}
    t = privacy["training"]
    bounds = {k: tuple(v) for k, v in privacy["preprocessing"].get("bounds", {}).items()}
    return {"dp": {"bounds": bounds, "sgd": {
        "epsilon": t["target_epsilon"], "delta": t["delta"], "epochs": t["epochs"],
        "batch_size": t["expected_batch_size"], "max_grad_norm": t["max_grad_norm"],
        "lr": t.get("lr", 2e-3), "accountant": t["accountant"]}}}


def membership_audit(model: Any, members: pd.DataFrame, non_members: pd.DataFrame, *,
                     shadows: int = 4, max_rows: int = 5000, seed: int = 0,
                     members_source: str = "members", non_members_source: str = "non-members",
                     fit_reference: FitReference | None = None) -> dict[str, Any]:
    """Run the attacks on `model` (a loaded lathe Model) and return the report.

    `fit_reference(X, y, seed, extra)` fits one reference model of the same family and
    parameters (`lathe.api` passes one built on `lathe.models.FitData`; this module stays
    below the model families, which call into `lathe.privacy.dp`)."""
    if not 0 <= shadows <= MAX_SHADOWS:
        raise UsageError(f"--shadows {shadows}: choose 0 to {MAX_SHADOWS}",
                         hint="4 reference fits are usually enough for the offline attack")
    Xm, ym = _xy(model, members, members_source)
    Xn, yn = _xy(model, non_members, non_members_source)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(Xn))
    population = order[: len(order) // 2] if shadows else np.array([], dtype=int)
    scored = order[len(population):]
    n = min(len(scored), len(Xm), max_rows)
    if n < 20:
        raise DataError(f"the audit needs at least 20 members and 20 scored non-members; it "
                        f"has {len(Xm)} and {len(scored)}",
                        hint="pass more rows (with --shadows, half the non-members train the "
                             "reference models)")
    pick_m, pick_n = rng.choice(len(Xm), n, replace=False), rng.choice(scored, n, replace=False)
    X = pd.concat([Xm.iloc[pick_m], Xn.iloc[pick_n]])
    y = np.r_[ym[pick_m], yn[pick_n]]
    labels = np.r_[np.ones(n), np.zeros(n)]
    loss_score, phi = _scores(model.family, model.schema, X, y)
    attacks = {"loss_threshold": attack_metrics(labels, loss_score, seed=seed)}
    if shadows:
        outs = []
        extra = _shadow_data(model)
        for k in range(shadows):
            half = rng.choice(population, max(2, len(population) // 2), replace=False)
            if fit_reference is None:
                raise UsageError("the offline attack needs a way to fit reference models",
                                 hint="pass fit_reference, or shadows=0")
            shadow = fit_reference(Xn.iloc[half], yn[half], seed + k + 1, dict(extra))
            outs.append(_scores(shadow, model.schema, X, y)[1])
        table = np.vstack(outs)
        sigma = float(np.sqrt(np.mean(table.var(axis=0)))) or 1.0
        lira = (phi - table.mean(axis=0)) / sigma
        attacks["lira_offline"] = {**attack_metrics(labels, lira, seed=seed), "shadows": shadows,
                                   "shadow_rows": int(max(2, len(population) // 2))}
    report: dict[str, Any] = {"members": n, "non_members": n, "attacks": attacks,
                              "family": model.family.name, "privacy": None}
    privacy = model.manifest.get("privacy")
    if privacy:
        report["privacy"] = {"epsilon": privacy["epsilon"], "delta": privacy["delta"],
                             **dp_limits(privacy["epsilon"], privacy["delta"])}
    # a leak is shown when an attack's AUC interval lies above chance
    leaking = [name for name, a in attacks.items() if a["auc_ci"][0] > 0.5]
    report["leak_detected"] = bool(leaking)
    report["verdict"] = (f"membership leaks: {', '.join(leaking)} beat chance (AUC interval "
                         "above 0.5)" if leaking else
                         f"no leak detected with {n} members and {n} non-members")
    return report
