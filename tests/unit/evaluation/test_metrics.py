"""Binary metrics follow scikit-learn's convention: plain precision/recall/f1 are the positive
class's (the second sorted class unless declared), named in `positive_class`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import lathe
from lathe.config import load_config
from lathe.data.infer import declare_positive_class
from lathe.data.schema import Schema
from lathe.errors import ConfigError
from lathe.evaluation.metrics import classification_metrics, compute_metrics

# an imbalanced label where the positive class is much harder than the negative one, so the
# positive class's figures and the macro averages differ (as on bank marketing: 0.65 vs 0.79)
Y = np.array([0] * 80 + [1] * 20)
PRED = np.array([0] * 75 + [1] * 5 + [1] * 8 + [0] * 12)
PROBA = np.column_stack([1 - (0.2 + 0.6 * PRED), 0.2 + 0.6 * PRED])
PROBA[np.arange(100) % 7 == 0, :] = [0.45, 0.55]  # ties broken, some rows flipped
PROBA_PRED = PROBA.argmax(axis=1)


def test_binary_plain_names_are_the_positive_class():
    m = classification_metrics(Y, PROBA, ["no", "yes"])
    p, r, f, _ = skm.precision_recall_fscore_support(Y, PROBA_PRED, average="binary")
    assert m["positive_class"] == "yes"
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((p, r, f))
    macro = skm.precision_recall_fscore_support(Y, PROBA_PRED, average="macro")
    assert m["f1_macro"] == pytest.approx(macro[2])
    assert abs(m["f1"] - m["f1_macro"]) > 0.05  # the old meaning would fail here
    yes = next(row for row in m["per_class"] if row["class"] == "yes")
    assert (yes["precision"], yes["recall"], yes["f1"]) == pytest.approx(
        (m["precision"], m["recall"], m["f1"]))


def test_declared_positive_class_is_described():
    m = classification_metrics(Y, PROBA, ["no", "yes"], positive=0)
    p, r, f, _ = skm.precision_recall_fscore_support(Y, PROBA_PRED, average="binary", pos_label=0)
    assert m["positive_class"] == "no"
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((p, r, f))
    # ROC AUC does not depend on the side; average precision does
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(Y, PROBA[:, 1]))
    assert m["average_precision"] == pytest.approx(
        skm.average_precision_score(Y == 0, PROBA[:, 0]))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(Y == 0, PROBA[:, 0]))


def test_multiclass_plain_names_stay_macro():
    y = np.array([0, 1, 2, 2, 1, 0])
    proba = np.eye(3)[[0, 1, 2, 1, 1, 2]]
    m = compute_metrics("multiclass", y, proba, ["a", "b", "c"])
    assert "positive_class" not in m
    assert m["f1"] == m["f1_macro"] and m["precision"] == m["precision_macro"]


def test_schema_positive_index_and_old_manifests():
    schema = Schema([], target="y", task="binary", classes=["no", "yes"])
    assert schema.positive_index == 1
    old = schema.to_dict()
    del old["positive_class"]  # a manifest written before positive classes existed
    assert Schema.from_dict(old).positive_index == 1
    declare_positive_class(schema, "no")
    assert Schema.from_dict(schema.to_dict()).positive_index == 0
    assert Schema([], task="multiclass", classes=["a", "b", "c"]).positive_index is None


def test_declared_positive_class_must_exist_and_needs_a_binary_label():
    schema = Schema([], target="y", task="binary", classes=["no", "yes"])
    with pytest.raises(ConfigError, match="'Yes' is not a class of 'y'.*did you mean 'yes'"):
        declare_positive_class(schema, "Yes")
    multi = Schema([], target="y", task="multiclass", classes=["a", "b", "c"])
    with pytest.raises(ConfigError, match="needs a binary label"):
        declare_positive_class(multi, "a")


def test_yaml_boolean_positive_class_is_refused(tmp_path):
    path = tmp_path / "lathe.yaml"
    path.write_text("data:\n  positive_class: yes\n")
    with pytest.raises(ConfigError, match="quoted"):
        load_config(path)
    path.write_text("data:\n  positive_class: 'yes'\n")
    assert load_config(path).data.positive_class == "yes"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    y = np.where(x + rng.normal(scale=1.0, size=n) > 1.2, "yes", "no")
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "y": y})


def test_trained_model_reports_its_positive_class(frame, tmp_path):
    model = lathe.train(frame, target="y", model="linear", threads=1, positive_class="no")
    assert model.manifest["metrics"]["test"]["positive_class"] == "no"
    path = model.save(tmp_path / "m")
    metrics = lathe.load(path).evaluate(frame)
    no = next(row for row in metrics["per_class"] if row["class"] == "no")
    assert metrics["positive_class"] == "no" and metrics["f1"] == pytest.approx(no["f1"])

    # an artifact saved before the positive class was recorded still loads: second class
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["schema"]["positive_class"]
    manifest_path.write_text(json.dumps(manifest))
    old = lathe.load(path).evaluate(frame)
    yes = next(row for row in old["per_class"] if row["class"] == "yes")
    assert old["positive_class"] == "yes" and old["recall"] == pytest.approx(yes["recall"])


def test_default_positive_class_is_recorded(frame):
    model = lathe.train(frame, target="y", model="linear", threads=1)
    assert model.schema.to_dict()["positive_class"] == "yes"
    with pytest.raises(ConfigError, match="'maybe' is not a class"):
        lathe.train(frame, target="y", model="linear", threads=1, positive_class="maybe")


def test_report_states_and_plots_the_positive_class(frame, tmp_path):
    model = lathe.train(frame, target="y", model="linear", threads=1, positive_class="no")
    model.evaluate(frame, report=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "those of the positive class <b>no</b>" in page
    assert "positive class &#x27;no&#x27;" in page  # the ROC/PR curves' caption
    assert "observed share of &#x27;no&#x27;" in page  # the calibration plot
