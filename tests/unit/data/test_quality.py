"""lathe.data.quality: each check fires exactly when it should, on real samples and on small
synthetic frames built to trigger one finding at a time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from lathe.data.leak_scores import binary_auc, majority_accuracy, spearman
from lathe.data.quality import (
    CHECKS,
    Finding,
    QualityReport,
    check_table,
)
from lathe.errors import ConfigError, DataQualityError, UsageError

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def shared_csv(*parts: str, nrows: int | None = None) -> pd.DataFrame:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return pd.read_csv(path, nrows=nrows)


@pytest.fixture(scope="module")
def adult_5k() -> pd.DataFrame:
    return shared_csv("adult", "train.csv", nrows=5000)


def codes(report: QualityReport) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.severity, f.column) for f in report.findings]


def only(report: QualityReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, codes(report)
    return found[0]


def clean_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.normal(100, 20, n),
        "colour": rng.choice(["red", "green", "blue", "grey"], n),
        "y": rng.choice(["no", "yes"], n),
    })


# ---- real data ---------------------------------------------------------------------------------

def test_adult_sample_is_ready_to_train(adult_5k: pd.DataFrame) -> None:
    report = check_table(adult_5k, "income", source="adult.csv")
    assert report.task == "binary" and not report.blocking
    assert (report.n_rows, report.n_columns) == (5000, 15)
    kinds = {c["name"]: c["kind"] for c in report.columns}
    assert kinds["age"] == "numeric" and kinds["workclass"] == "categorical"
    assert kinds["income"] == "label"
    missing = {f.column: f.count for f in report.findings if f.code == "missing_values"}
    assert missing == {c: int(n) for c, n in adult_5k.isna().sum().items() if n}
    assert all(f.severity == "info" for f in report.findings if f.code == "missing_values")
    assert not any(f.code in ("leakage", "label_imbalance", "high_cardinality")
                   for f in report.findings)
    dupes = int(adult_5k.duplicated().sum())
    assert [f.count for f in report.findings if f.code == "duplicate_rows"] == ([dupes] if dupes else [])


def test_banking77_text_has_no_findings() -> None:
    frame = shared_csv("banking77", "train.csv")
    report = check_table(frame, "category")
    assert report.task == "multiclass"
    assert {c["name"]: c["kind"] for c in report.columns} == {"text": "text", "category": "label"}
    # 77 roughly balanced classes are each ~1.3% of rows: that is not imbalance.
    assert report.findings == []


def test_wine_duplicates_and_rare_quality_grades() -> None:
    frame = shared_csv("wine_quality", "train.csv")
    report = check_table(frame, "quality")
    assert report.task == "multiclass" and not report.blocking
    assert only(report, "duplicate_rows").count == int(frame.duplicated().sum())
    imbalance = only(report, "label_imbalance")
    counts = frame["quality"].value_counts()
    assert imbalance.severity == "warning" and imbalance.count == int(counts.min())
    assert str(counts.idxmin()) in imbalance.details["rare_classes"]


def test_adult_train_test_overlap_is_counted(adult_5k: pd.DataFrame) -> None:
    train = adult_5k.head(3000)
    test = pd.concat([adult_5k.iloc[:100], adult_5k.iloc[3000:3400]], ignore_index=True)
    features = [c for c in adult_5k.columns if c != "income"]
    seen = set(train[features].itertuples(index=False))
    expected = sum(row in seen for row in test[features].itertuples(index=False))
    report = check_table(train, "income", test_frame=test, test_source="test.csv")
    overlap = only(report, "train_test_overlap")
    assert overlap.severity == "warning" and overlap.count == expected >= 100
    assert overlap.details["fraction"] == pytest.approx(expected / len(test))
    assert report.to_dict()["test_source"] == "test.csv"


@pytest.mark.skipif(not (SHARED / "adult" / "train.csv").exists(), reason="no shared adult")
def test_full_adult_checks_clean() -> None:
    frame = shared_csv("adult", "train.csv")
    report = check_table(frame, "income")
    assert report.n_rows == 32561 and not report.blocking


# ---- each check on a synthetic frame ---------------------------------------------------------

def test_clean_frame_has_no_findings() -> None:
    report = check_table(clean_frame(), "y")
    assert report.findings == [] and not report.blocking
    assert report.to_dict()["summary"] == {"error": 0, "warning": 0, "info": 0}


def test_missing_values_severity_by_share() -> None:
    frame = clean_frame(100)
    frame["mostly_gone"] = np.where(np.arange(100) < 60, np.nan, 1.5 * np.arange(100))
    frame["a_few_gone"] = np.where(np.arange(100) < 10, np.nan, 2.5 * np.arange(100))
    frame["all_gone"] = np.nan
    frame.loc[:4, "y"] = None
    report = check_table(frame, "y")
    found = {f.column: (f.severity, f.count) for f in report.findings if f.code == "missing_values"}
    assert found == {"mostly_gone": ("warning", 60), "a_few_gone": ("info", 10),
                     "all_gone": ("error", 100), "y": ("warning", 5)}
    assert report.blocking
    assert {c["name"]: c["kind"] for c in report.columns}["all_gone"] == "dropped"


def test_empty_label_is_an_error_not_a_crash() -> None:
    frame = clean_frame(50).assign(y=np.nan)
    report = check_table(frame, "y")
    assert report.task is None
    assert codes(report) == [("missing_values", "error", "y")]


def test_duplicate_rows_are_counted_exactly() -> None:
    frame = clean_frame(100)
    frame = pd.concat([frame, frame.iloc[[3, 3, 7]]], ignore_index=True)
    report = check_table(frame, "y")
    finding = only(report, "duplicate_rows")
    assert (finding.severity, finding.count) == ("warning", 3)
    assert finding.details["example_rows"] == [101, 102, 103]
    assert codes(report) == [("duplicate_rows", "warning", None)]


def test_conflicting_labels_warning_then_error() -> None:
    frame = clean_frame(100)
    flipped = frame.iloc[[0, 1]].assign(y=lambda f: f["y"].map({"no": "yes", "yes": "no"}))
    few = check_table(pd.concat([frame, flipped], ignore_index=True), "y")
    finding = only(few, "conflicting_labels")
    assert (finding.severity, finding.count, finding.details["groups"]) == ("warning", 4, 2)
    assert finding.details["unavoidable_errors"] == 2

    many = pd.concat([frame, frame.iloc[:30].assign(y=lambda f: f["y"].map({"no": "yes", "yes": "no"}))],
                     ignore_index=True)
    finding = only(check_table(many, "y"), "conflicting_labels")
    assert (finding.severity, finding.count, finding.details["unavoidable_errors"]) == ("error", 60, 30)


def test_conflicts_are_not_reported_for_regression() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"k": np.repeat(["a", "b", "c", "d"], 50), "y": rng.normal(size=200)})
    assert "conflicting_labels" not in {f.code for f in check_table(frame, "y").findings}


def test_constant_column_is_a_warning() -> None:
    frame = clean_frame().assign(site="north")
    report = check_table(frame, "y")
    assert codes(report) == [("constant_columns", "warning", "site")]
    assert "'north'" in report.findings[0].message
    assert {c["name"]: c["note"] for c in report.columns}["site"].startswith("constant")


def test_high_cardinality_and_id_columns() -> None:
    n = 200
    frame = clean_frame(n)
    frame["street"] = [f"street {i % 150}" for i in range(n)]
    frame["order_ref"] = [f"ORD{i:06d}" for i in range(n)]
    report = check_table(frame, "y")
    found = {f.column: (f.severity, f.count) for f in report.findings if f.code == "high_cardinality"}
    assert found == {"street": ("warning", 150), "order_ref": ("info", n)}
    assert {c["name"]: c["kind"] for c in report.columns}["order_ref"] == "dropped"
    assert not report.blocking


def test_more_than_a_thousand_categories_is_high_cardinality() -> None:
    n = 3000
    frame = pd.DataFrame({"sku": [f"sku {i % 1200}" for i in range(n)],
                          "y": np.random.default_rng(1).choice(["a", "b"], n)})
    finding = only(check_table(frame, "y"), "high_cardinality")
    assert (finding.severity, finding.count) == ("warning", 1200)
    assert finding.details["distinct_fraction"] == pytest.approx(0.4)


def test_minority_class_under_five_percent() -> None:
    frame = clean_frame(200).assign(y=["rare"] * 6 + ["common"] * 194)
    finding = only(check_table(frame, "y"), "label_imbalance")
    assert (finding.severity, finding.count) == ("warning", 6)
    assert finding.details["rare_classes"] == {"rare": 6}
    balanced_enough = clean_frame(200).assign(y=["rare"] * 12 + ["common"] * 188)
    assert "label_imbalance" not in {f.code for f in check_table(balanced_enough, "y").findings}


def test_one_class_label_blocks() -> None:
    report = check_table(clean_frame().assign(y="yes"), "y")
    assert report.blocking and report.task is None
    assert codes(report) == [("label_imbalance", "error", "y")]
    with pytest.raises(DataQualityError, match="only one class"):
        report.raise_if_blocking()


def test_unknown_target_suggests_the_nearest_column() -> None:
    with pytest.raises(UsageError, match="did you mean 'colour'") as caught:
        check_table(clean_frame(), "color", source="shop.csv")
    assert "shop.csv" in str(caught.value) and caught.value.hint


# ---- leakage ---------------------------------------------------------------------------------

def test_categorical_leak_blocks_and_names_the_column() -> None:
    frame = clean_frame(300)
    frame["outcome_code"] = frame["y"].map({"no": "N1", "yes": "Y7"})
    report = check_table(frame, "y")
    assert report.blocking and codes(report) == [("leakage", "error", "outcome_code")]
    finding = report.findings[0]
    assert "--drop outcome_code" in finding.message
    assert finding.details == {"metric": "majority-label accuracy", "score": 1.0}


def test_numeric_leak_by_auc_for_binary_labels() -> None:
    frame = clean_frame(300)
    rng = np.random.default_rng(5)
    frame["refund_amount"] = np.where(frame["y"] == "yes", rng.uniform(50, 90, 300), rng.uniform(0, 40, 300))
    finding = only(check_table(frame, "y"), "leakage")
    assert (finding.column, finding.details["metric"], finding.details["score"]) == \
        ("refund_amount", "ROC-AUC", 1.0)


def test_numeric_leak_for_multiclass_by_nearest_neighbour() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=400)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=400),
                          "y": np.select([x < -1, x < 0, x < 1], ["a", "b", "c"], "d")})
    finding = only(check_table(frame, "y"), "leakage")
    assert finding.column == "x" and finding.details["metric"] == "nearest-neighbour accuracy"
    assert finding.details["score"] >= 0.99


def test_regression_leak_by_spearman() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=200), "y": np.exp(x) + 3})
    finding = only(check_table(frame, "y"), "leakage")
    assert (finding.column, finding.details["metric"]) == ("x", "|Spearman|")
    assert finding.details["score"] == pytest.approx(1.0)


def test_no_false_leaks_from_ids_imbalance_or_sorted_files() -> None:
    n = 400
    rng = np.random.default_rng(8)
    labels = np.sort(rng.choice(["a", "b"], n))  # a file sorted by label
    frame = pd.DataFrame({
        "ticket": [f"T-{i}" for i in rng.permutation(n)],        # distinct on every row
        "mostly_zero": np.where(rng.random(n) < 0.9, 0.0, rng.normal(size=n)),  # ties
        "y": labels,
    })
    assert "leakage" not in {f.code for f in check_table(frame, "y").findings}
    # 99.5% of one class: any column "reaches" 0.99 accuracy by guessing the majority.
    skewed = pd.DataFrame({"level": rng.integers(0, 3, n), "y": ["a"] * 398 + ["b"] * 2})
    assert "leakage" not in {f.code for f in check_table(skewed, "y").findings}


def test_leak_scores_match_their_definitions() -> None:
    x = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 5.0, 2.0] * 4)
    y = np.array([4.0, 1.0, 3.0, 2.0, 7.0, 9.0, np.nan] * 4)
    both = ~np.isnan(x) & ~np.isnan(y)
    assert spearman(x, y) == pytest.approx(abs(spearmanr(x[both], y[both]).statistic))
    # ties and missing values, against scikit-learn's AUC with the blanks ranked either end
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 200).astype(float)
    score[rng.random(200) < 0.1] = np.nan
    label = (rng.random(200) < 0.3 + 0.1 * np.nan_to_num(score)).astype(int)
    either_end = [roc_auc_score(label, np.where(np.isnan(score), fill, score)) for fill in (-1, 9)]
    assert binary_auc(score, label) == pytest.approx(max(a for auc in either_end for a in (auc, 1 - auc)))
    assert binary_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    # leave-one-out: a value seen once falls back to the overall majority class (1 here) ...
    assert majority_accuracy(np.array([0, 0, 0, 1]), np.array([1, 1, 1, 0])) == 0.75
    # ... and without the row itself a tie (or a loss) for its own label counts as wrong
    assert majority_accuracy(np.array([0, 0, 0, 1]), np.array([1, 1, 0, 1])) == 0.25


# ---- train/test overlap ----------------------------------------------------------------------

def test_overlap_counts_shared_rows_despite_dtype_differences() -> None:
    train = clean_frame(100).assign(visits=np.arange(100) % 7)
    test = pd.concat([train.iloc[:10], clean_frame(30, seed=9).assign(visits=2)], ignore_index=True)
    test.loc[11, "visits"] = np.nan  # one blank makes the test file's int column float
    assert test["visits"].dtype == "float64" and train["visits"].dtype == "int64"
    finding = only(check_table(train, "y", test_frame=test), "train_test_overlap")
    assert (finding.severity, finding.count) == ("warning", 10)
    assert finding.details["fraction"] == pytest.approx(0.25)


def test_test_file_copied_from_train_is_an_error() -> None:
    train = clean_frame(100)
    report = check_table(train, "y", test_frame=train.sample(20, random_state=0).drop(columns="y"))
    finding = only(report, "train_test_overlap")
    assert (finding.severity, finding.count) == ("error", 20) and report.blocking


def test_columns_in_only_one_file_are_an_error() -> None:
    train = clean_frame(100)
    test = clean_frame(20, seed=2).drop(columns="colour").assign(region="x")
    report = check_table(train, "y", test_frame=test, test_source="holdout.csv")
    finding = only(report, "train_test_overlap")
    assert finding.severity == "error" and "holdout.csv" in finding.message
    assert finding.details == {"only_in_train": ["colour"], "only_in_test": ["region"]}


# ---- the report and the registry -------------------------------------------------------------

def test_report_to_dict_is_json_ready_with_stable_keys() -> None:
    frame = clean_frame(100).assign(site="north", count=np.int64(3))
    frame.loc[:2, "amount"] = np.nan
    report = check_table(pd.concat([frame, frame.head(2)], ignore_index=True), "y", source="a.csv")
    data = json.loads(json.dumps(report.to_dict()))
    assert list(data) == ["source", "test_source", "n_rows", "n_columns", "target", "task",
                          "columns", "findings", "blocking", "summary", "task_note"]
    assert data["source"] == "a.csv" and data["n_rows"] == 102 and data["task"] == "binary"
    assert set(data["columns"][0]) == {"name", "kind", "dtype", "missing", "missing_fraction",
                                       "n_unique", "examples", "note"}
    assert set(data["findings"][0]) == {"code", "severity", "message", "column", "count", "details"}
    assert data["summary"] == {"error": 0, "warning": 3, "info": 1}
    assert [f["severity"] for f in data["findings"]] == ["warning"] * 3 + ["info"]


def test_checks_are_registered_by_name_and_can_be_chosen() -> None:
    assert set(CHECKS.names()) >= {"missing_values", "duplicate_rows", "conflicting_labels",
                                   "constant_columns", "high_cardinality", "label_imbalance",
                                   "leakage", "train_test_overlap"}
    frame = clean_frame().assign(site="north")
    frame = pd.concat([frame, frame.head(1)], ignore_index=True)
    assert codes(check_table(frame, "y", checks=["duplicate_rows"])) == [
        ("duplicate_rows", "warning", None)]
    with pytest.raises(ConfigError, match="did you mean 'leakage'"):
        check_table(frame, "y", checks=["leakge"])


def test_frames_without_rows_usable_columns_or_string_names() -> None:
    assert codes(check_table(pd.DataFrame({"x": [], "y": []}), "y")) == [("no_rows", "error", None)]
    report = check_table(clean_frame().drop(columns=["amount", "colour"]).assign(k=1), "y")
    assert ("usable_features", "error", None) in codes(report)
    assert ("constant_columns", "warning", "k") in codes(report)
    numbered = check_table(pd.DataFrame({0: np.arange(30) * 1.5, 1: ["a", "b", "c"] * 10}), "1")
    assert [c["name"] for c in numbered.columns] == ["0", "1"] and numbered.task == "multiclass"
