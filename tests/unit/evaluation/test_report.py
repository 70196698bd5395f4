"""The HTML report, built from real small models trained on samples of the shared datasets."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe.api as api
from lathe.data.infer import encode_labels
from lathe.errors import UsageError
from lathe.evaluation.metrics import compute_metrics
from lathe.evaluation.report import render_report, write_report

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
IMAGE = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]*)"')
# any src/href (quoted or not) that points off the page: http(s) or protocol-relative
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
FAST = {"n_estimators": 60}


def _shared(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (these tests read ../shared/data)")
    return path


@pytest.fixture(scope="module")
def adult() -> tuple[api.Model, pd.DataFrame]:
    frame = pd.read_csv(_shared("adult", "train.csv"), nrows=3000)
    return api.train(frame, target="income", threads=1, params=FAST), frame.tail(800)


@pytest.fixture(scope="module")
def banking() -> tuple[api.Model, pd.DataFrame]:
    full = pd.read_csv(_shared("banking77", "train.csv"))
    train = full.groupby("category").head(12)
    holdout = full.drop(train.index).sample(1000, random_state=0)
    return api.train(train, target="category", model="linear", threads=1), holdout


@pytest.fixture(scope="module")
def wine() -> tuple[api.Model, pd.DataFrame]:
    frame = pd.read_csv(_shared("wine_quality", "train.csv"), nrows=1500)
    model = api.train(frame, target="quality", task="regression", threads=1, params=FAST)
    return model, frame.tail(500)


def sections(page: str) -> set[str]:
    return set(re.findall(r'<section id="([a-z]+)"', page))


def assert_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert page.rstrip().endswith("</html>")


def test_binary_report_has_every_section_and_plot(adult, tmp_path) -> None:
    model, holdout = adult
    target = tmp_path / "nested" / "dir" / "r.html"
    metrics = model.evaluate(holdout, report=target)
    page = target.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert sections(page) == {"summary", "classes", "plots", "training", "schema", "lineage"}
    assert IMAGE.findall(page) == [
        "ROC curve", "Precision-recall curve", "Confusion matrix (counts)",
        "Confusion matrix (row-normalised (recall per class))", "Reliability diagram",
        "Feature importance", "Learning curve"]
    assert "<title>Evaluation report: gbm binary model of income</title>" in page
    assert "positive class &#x27;&gt;50K&#x27;" in page
    assert f"<td>{metrics['roc_auc']:.4f}</td>" in page
    assert '<tr class="primary"><th>roc_auc</th>' in page
    assert "<td>&lt;=50K</td>" in page  # per-class table, escaped
    assert "<td>native_country</td><td>categorical</td>" in page
    assert "dataset_hash" in page and "train: " in page
    assert not [p for p in target.parent.iterdir() if p.name != "r.html"]  # no temp file left
    assert target.stat().st_mode & 0o777 == 0o644


def test_77_classes_stay_legible(banking, tmp_path) -> None:
    model, holdout = banking
    assert model.task == "multiclass" and len(model.classes) == 77
    model.evaluate(holdout, report=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    alts = IMAGE.findall(page)
    assert alts[:5] == ["ROC curve", "Precision-recall curve", "Confusion matrix (counts)",
                        "Confusion matrix (row-normalised (recall per class))",
                        "Reliability diagram"]
    assert "one-vs-rest for the 10 most frequent of 77 classes" in page
    assert "77 classes: cell values are shown by colour only" in page
    assert page.count("</tr>", page.index('id="classes"'), page.index('id="plots"')) == 78
    assert "confidence of the predicted class" in page
    # the linear text model reports importance but no boosting rounds
    assert "Feature importance" in alts
    assert "No learning curve was recorded for this model." in page


def test_regression_report_has_scatter_and_residuals(wine, tmp_path) -> None:
    model, holdout = wine
    model.evaluate(holdout, report=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert sections(page) == {"summary", "plots", "training", "schema", "lineage"}
    assert IMAGE.findall(page) == ["Predicted vs actual", "Residual histogram",
                                   "Feature importance", "Learning curve"]
    assert '<tr class="primary"><th>rmse</th>' in page
    assert "ROC" not in page


def test_user_strings_are_escaped(tmp_path) -> None:
    rng = np.random.default_rng(0)
    evil_column, evil_class = "<script>alert('col')</script>", "<script>alert(1)</script>"
    x = rng.normal(size=400)
    frame = pd.DataFrame({
        evil_column: x,
        "价格": rng.normal(size=400),  # glyphs the plot font lacks must not warn
        # '$' pairs would switch matplotlib into maths mode if the labels were not escaped
        "<b>label</b>": np.where(x + rng.normal(scale=0.5, size=400) > 0, evil_class, "$5 & $6"),
    })
    model = api.train(frame, target="<b>label</b>", threads=1, params=FAST)
    target = tmp_path / "r.html"
    model.evaluate(frame, report=target)
    page = target.read_text(encoding="utf-8")
    assert_self_contained(page)  # includes: no "<script" anywhere
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;col&#x27;)&lt;/script&gt;" in page
    assert "model of &lt;b&gt;label&lt;/b&gt;</title>" in page
    assert "<b>label</b>" not in page
    assert "$5 &amp; $6" in page
    assert "<td>价格</td>" in page  # the tables keep what the plots cannot draw
    assert len(IMAGE.findall(page)) == 7


def test_saved_model_reports_its_path_and_size(adult, tmp_path) -> None:
    model, holdout = adult
    saved = api.load(model.save(tmp_path / "artifact"))
    saved.evaluate(holdout, report=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"<td>{tmp_path / 'artifact'}</td>" in page
    assert re.search(r"<th>model_size_bytes</th><td>[\d.,]+ (KB|MB)</td>", page)
    assert IMAGE.findall(page)[-2:] == ["Feature importance", "Learning curve"]


def test_single_class_data_explains_missing_curves(adult, tmp_path) -> None:
    model, holdout = adult
    only_low = holdout[holdout["income"] == "<=50K"]
    model.evaluate(only_low, report=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "curves need rows of more than one class" in page
    assert "ROC curve" not in IMAGE.findall(page)
    assert "Confusion matrix (counts)" in IMAGE.findall(page)


def test_rendering_is_thread_safe_and_deterministic(adult) -> None:
    model, holdout = adult
    X, _ = model.schema.conform(holdout)
    y = encode_labels(holdout["income"], model.schema)
    raw = model.family.predict_raw(X)
    metrics = compute_metrics(model.task, y, raw, model.classes)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def render(_: int) -> str:
        return render_report(model=model, y_true=y, raw=raw, metrics=metrics, source="s", now=now)

    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = list(pool.map(render, range(2)))
    assert pages[0] == pages[1]
    assert "2026-01-02 03:04:05 UTC" in pages[0]


def test_write_report_replaces_atomically_and_refuses_bad_paths(adult, tmp_path) -> None:
    model, holdout = adult
    X, _ = model.schema.conform(holdout)
    y = encode_labels(holdout["income"], model.schema)
    raw = model.family.predict_raw(X)
    metrics = compute_metrics(model.task, y, raw, model.classes)
    target = tmp_path / "r.html"
    target.write_text("old", encoding="utf-8")
    returned = write_report(target, model=model, y_true=y, raw=raw, metrics=metrics, source="s")
    assert returned == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    with pytest.raises(UsageError, match="is a directory"):
        write_report(tmp_path, model=model, y_true=y, raw=raw, metrics=metrics, source="s")
    with pytest.raises(UsageError, match="800 labels but 799 predictions"):
        write_report(target, model=model, y_true=y, raw=raw[:-1], metrics=metrics, source="s")
