"""The CLI end to end on the bundled data (bad input: test_cli_bad_input.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.cli_support import EXAMPLES, assert_one_line_error, run


def test_train_json_output(
    capsys: pytest.CaptureFixture[str], sample: Path, tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "train",
        sample,
        "--target",
        "income",
        "--model",
        "linear",
        "--out",
        tmp_path / "lin",
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["family"] == "linear" and payload["task"] == "binary"
    assert payload["test_metrics"]["roc_auc"] > 0.85
    assert (tmp_path / "lin" / "manifest.json").exists()


def test_evaluate_json_has_the_design_keys(
    capsys: pytest.CaptureFixture[str], artifact: Path
) -> None:
    code, out, _ = run(capsys, "evaluate", artifact, EXAMPLES / "adult_holdout.csv", "--json")
    assert code == 0
    metrics = json.loads(out)
    for key in (
        "accuracy",
        "precision_macro",
        "precision_weighted",
        "recall_macro",
        "recall_weighted",
        "f1_macro",
        "f1_weighted",
        "roc_auc",
        "log_loss",
        "confusion_matrix",
        "n_rows",
        "rows_per_second",
    ):
        assert key in metrics, key
    assert metrics["n_rows"] == 2000 and metrics["roc_auc"] > 0.88
    assert sum(map(sum, metrics["confusion_matrix"])) == 2000
    # binary: plain precision/recall/f1 are the positive class's (the second sorted label)
    assert metrics["positive_class"] == ">50K"
    positive = next(row for row in metrics["per_class"] if row["class"] == ">50K")
    for key in ("precision", "recall", "f1"):
        assert metrics[key] == pytest.approx(positive[key]), key
    assert metrics["f1"] != pytest.approx(metrics["f1_macro"])
    assert metrics["training_overlap"]["rows"] == 0


def test_evaluate_on_training_rows_warns(
    capsys: pytest.CaptureFixture[str], artifact: Path, sample: Path
) -> None:
    code, out, err = run(capsys, "evaluate", artifact, sample, "--json")
    assert code == 0
    overlap = json.loads(out)["training_overlap"]
    assert overlap == {"rows": 3000, "share": 1.0, "of": 3000, "method": "row_hashes"}
    assert "warning: 3,000 of 3,000 rows (100.0%) are rows the model was trained on" in err


def test_predict_writes_probabilities(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "scored.parquet"
    code, _, _ = run(
        capsys, "predict", artifact, EXAMPLES / "adult_new.csv", "--out", out_file, "--proba"
    )
    assert code == 0
    scored = pd.read_parquet(out_file)
    assert len(scored) == 500
    assert {"prediction", "proba_<=50K", "proba_>50K"} <= set(scored.columns)
    assert ((scored["proba_>50K"] + scored["proba_<=50K"]).round(6) == 1).all()


@pytest.fixture
def umask_022():  # noqa: ANN201
    import os

    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_predict_output_follows_the_umask_like_the_report(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path, suffix: str,
    umask_022: None,
) -> None:
    """Issue #19 item 10: predictions were written 0600 (the temporary file's mode); under
    umask 022 they are 0644, as report.html is, and no temporary file is left behind."""
    out_file = tmp_path / f"scored.{suffix}"
    report = tmp_path / "report.html"
    assert run(capsys, "predict", artifact, EXAMPLES / "adult_new.csv", "--out", out_file)[0] == 0
    assert run(capsys, "evaluate", artifact, EXAMPLES / "adult_holdout.csv",
               "--report", report)[0] == 0
    assert out_file.stat().st_mode & 0o777 == 0o644
    assert report.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out_file.name, report.name])


def test_help_is_fast_and_lists_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lathe.cli", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for command in ("check", "train", "evaluate", "predict"):
        assert command in result.stdout
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, lathe.cli; print(sorted(m for m in ('pandas','lightgbm','sklearn','torch') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert imported.stdout.strip() == "[]"  # heavy imports stay lazy
    as_module = subprocess.run([sys.executable, "-m", "lathe", "--version"],
                               capture_output=True, text=True, timeout=30)
    assert as_module.returncode == 0 and as_module.stdout.startswith("lathe ")


# ---- bad input at training time ---------------------------------------------------------


def test_real_process_prints_one_line(sample: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lathe.cli", "train", str(sample), "--target", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_encoding_option_reads_latin1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = "".join(f"{city},{i % 7},{i % 2}\n" for i, city in enumerate(["Zürich", "Genève"] * 20))
    path = tmp_path / "latin.csv"
    path.write_bytes(("city,n,y\n" + rows).encode("latin-1"))
    code, out, err = run(
        capsys,
        "train",
        path,
        "--target",
        "y",
        "--encoding",
        "latin-1",
        "--out",
        tmp_path / "m",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["task"] == "binary"


def test_check_reports_and_blocks_on_a_leak(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sample: Path
) -> None:
    code, out, _ = run(capsys, "check", sample, "--target", "income", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["blocking"] is False and report["n_rows"] == 3000
    frame = pd.read_csv(sample)
    frame["leak"] = (frame["income"] == ">50K").map({True: "rich", False: "poor"})
    leaky = tmp_path / "leaky.csv"
    frame.to_csv(leaky, index=False)
    code, out, _ = run(capsys, "check", leaky, "--target", "income", "--json")
    assert code == 65
    findings = json.loads(out)["findings"]
    assert any(
        f["code"] == "leakage" and f["column"] == "leak" and f["severity"] == "error"
        for f in findings
    )
    code, out, err = run(
        capsys, "train", leaky, "--target", "income", "--out", tmp_path / "m", "--json"
    )
    assert code == 0
    assert any(
        "possible label leak" in note and "leak" in note for note in json.loads(out)["notes"]
    )


def test_registry_refs_resolve_in_evaluate_and_predict(
    capsys: pytest.CaptureFixture[str],
    artifact: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LATHE_STORE", f"sqlite:///{tmp_path / 'reg.db'}")
    code, out, err = run(capsys, "registry", "register", artifact, "--name", "income", "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == 1
    assert run(capsys, "registry", "promote", "income", "1")[0] == 0
    code, out, _ = run(
        capsys, "evaluate", "income@champion", EXAMPLES / "adult_holdout.csv", "--json"
    )
    assert code == 0 and json.loads(out)["n_rows"] == 2000
    code, _, _ = run(
        capsys, "predict", "income:1", EXAMPLES / "adult_new.csv", "--out", tmp_path / "s.csv"
    )
    assert code == 0 and len(pd.read_csv(tmp_path / "s.csv")) == 500
    code, _, err = run(capsys, "evaluate", "incme@champion", EXAMPLES / "adult_holdout.csv")
    assert_one_line_error(code, err, "did you mean 'income'")


def test_catch_all_from_the_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An intent file with an "oos" label trains with routing; evaluate reports both sides;
    a misspelt --catch-all label is one line naming the labels it could mean."""
    frame = pd.read_csv(EXAMPLES / "banking77.csv")
    intents = sorted(frame.category.unique())
    frame.loc[frame.category.isin(intents[60:]), "category"] = "oos"
    path = tmp_path / "intents.csv"
    frame.to_csv(path, index=False)
    code, out, _ = run(capsys, "train", path, "--target", "category", "--model", "linear",
                       "--abstain-rate", "0.05", "--out", tmp_path / "m", "--json")
    assert code == 0
    trained = json.loads(out)
    assert trained["family"] == "catch_all"
    assert any("'oos' is the catch-all" in note for note in trained["notes"])
    code, out, _ = run(capsys, "evaluate", tmp_path / "m", path, "--json")
    assert code == 0
    catch_all = json.loads(out)["catch_all"]
    assert catch_all["label"] == "oos" and 0 < catch_all["recall"] <= 1
    assert catch_all["catch_all_rows"] == int((frame.category == "oos").sum())

    code, _, err = run(capsys, "train", path, "--target", "category", "--model", "linear",
                       "--catch-all", "OOS_", "--out", tmp_path / "bad")
    assert_one_line_error(code, err, "catch_all label 'OOS_'", "oos")
    assert not (tmp_path / "bad").exists()
