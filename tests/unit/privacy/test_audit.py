"""Membership inference: an overfitted mlp leaks (AUC interval above 0.5), its private twin
stays within what its epsilon allows, and the CLI reports both attacks."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.api._privacy import reference_fitter
from lathe.cli import main
from lathe.config import PrivacyConfig
from lathe.data.infer import encode_labels, infer_schema
from lathe.errors import DataError, UsageError
from lathe.models import FitData
from lathe.models.mlp import MLP
from lathe.privacy.audit import attack_metrics, membership_audit

ROOT = Path(__file__).resolve().parents[3]
ADULT = ROOT / "examples" / "data" / "adult.csv"


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(ADULT).sample(frac=1, random_state=0)
    return frame.iloc[:400], frame.iloc[400:1400]


def _fit(members: pd.DataFrame, extra: dict | None = None, schema=None):  # noqa: ANN001
    schema = schema or infer_schema(members, "income")
    X, _ = schema.conform(members)
    y = encode_labels(members["income"], schema)
    # validating on the training rows keeps early stopping from stopping: it overfits
    family = MLP(hidden_sizes=[256, 256], dropout=0.0, weight_decay=0.0, max_epochs=60,
                 patience=60, lr=3e-3).fit(FitData(schema, X, y, X, y, threads=1,
                                                   extra=extra or {}))
    return types.SimpleNamespace(family=family, schema=schema, manifest={})


def test_metrics_on_perfect_and_random_scores() -> None:
    labels = np.r_[np.ones(300), np.zeros(300)]
    perfect = attack_metrics(labels, labels)
    assert perfect["auc"] == 1.0 and perfect["tpr_at_1pct_fpr"] == 1.0
    noise = attack_metrics(labels, np.random.default_rng(0).normal(size=600))
    assert noise["auc_ci"][0] < 0.5 < noise["auc_ci"][1]


def test_overfitted_mlp_leaks_and_its_private_twin_does_not(rows) -> None:  # noqa: ANN001
    from lathe.training.private import prepare_private

    members, others = rows
    leaky = membership_audit(_fit(members), members, others, shadows=0)
    assert leaky["attacks"]["loss_threshold"]["auc_ci"][0] > 0.5 and leaky["leak_detected"]

    schema = infer_schema(members, "income")
    X, _ = schema.conform(members)
    dp, _ = prepare_private(PrivacyConfig(epsilon=1.0, epochs=5, batch_size=64), schema, X,
                            "mlp")
    twin = _fit(members, {"dp": dp}, schema)
    private = membership_audit(twin, members, others, shadows=0)
    assert private["attacks"]["loss_threshold"]["auc"] < 0.56
    assert (private["attacks"]["loss_threshold"]["auc"]
            < leaky["attacks"]["loss_threshold"]["auc"])


def test_lira_offline_runs_bounded_shadows(rows) -> None:  # noqa: ANN001
    members, others = rows
    from lathe.models.linear import Linear

    schema = infer_schema(members, "income")
    X, _ = schema.conform(members)
    family = Linear().fit(FitData(schema, X, encode_labels(members["income"], schema)))
    model = types.SimpleNamespace(family=family, schema=schema, manifest={})
    report = membership_audit(model, members, others, shadows=2,
                              fit_reference=reference_fitter(model, threads=1))
    lira = report["attacks"]["lira_offline"]
    assert lira["shadows"] == 2 and 0.0 <= lira["auc"] <= 1.0
    assert report["members"] == report["non_members"] == 400
    with pytest.raises(UsageError, match="--shadows"):
        membership_audit(model, members, others, shadows=99)
    with pytest.raises(DataError, match="label column"):
        membership_audit(model, members.drop(columns="income"), others)


def test_cli_audit_json(tmp_path: Path, rows, capsys) -> None:  # noqa: ANN001
    members, others = rows
    members.to_csv(tmp_path / "members.csv", index=False)
    others.to_csv(tmp_path / "others.csv", index=False)
    assert main(["train", str(tmp_path / "members.csv"), "--target", "income", "--model",
                 "linear", "--out", str(tmp_path / "m"), "--json"]) == 0
    capsys.readouterr()
    assert main(["privacy", "audit", str(tmp_path / "m"), "--members",
                 str(tmp_path / "members.csv"), "--non-members", str(tmp_path / "others.csv"),
                 "--shadows", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["attacks"]) == {"loss_threshold"}
    for key in ("auc", "auc_ci", "tpr_at_1pct_fpr", "advantage", "advantage_ci"):
        assert key in report["attacks"]["loss_threshold"]
