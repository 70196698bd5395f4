"""The CLI end to end on the bundled data, and every kind of bad input from the issue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def sample(workdir: Path) -> Path:
    frame = pd.read_csv(EXAMPLES / "adult.csv").head(3000)
    path = workdir / "adult.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def artifact(workdir: Path, sample: Path) -> Path:
    out = workdir / "model"
    assert main(["train", str(sample), "--target", "income", "--out", str(out), "--json"]) == 0
    return out


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


# ---- bad input at training time ---------------------------------------------------------


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_line_error(
        *run(capsys, "train", tmp_path / "none.csv", "--target", "y")[::2],
        "none.csv",
        "no such file",
    )


def test_ragged_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,7,8\n")
    code, _, err = run(capsys, "train", path, "--target", "y")
    assert_one_line_error(code, err, "ragged.csv", "line 4")


def test_wrong_encoding(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("city,y\nZürich,1\nGenève,0\n".encode("latin-1"))
    code, _, err = run(capsys, "train", path, "--target", "y")
    assert_one_line_error(code, err, "latin.csv", "line 2", "--encoding")


def test_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    code, _, err = run(capsys, "train", path, "--target", "y")
    assert_one_line_error(code, err, "empty.csv", "empty")


def test_unknown_target(capsys: pytest.CaptureFixture[str], sample: Path) -> None:
    code, _, err = run(capsys, "train", sample, "--target", "incom")
    assert_one_line_error(code, err, "'incom'", "did you mean 'income'")


def test_one_class_label(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"x": range(30), "z": [1.5] * 15 + [2.5] * 15, "y": ["yes"] * 30}).to_csv(
        path, index=False
    )
    code, _, err = run(capsys, "train", path, "--target", "y", "--out", tmp_path / "m")
    assert_one_line_error(code, err, "only one class", "'yes'")
    assert not (tmp_path / "m").exists()


def test_all_nan_column(capsys: pytest.CaptureFixture[str], tmp_path: Path, sample: Path) -> None:
    frame = pd.read_csv(sample).head(300)
    frame["notes"] = None
    path = tmp_path / "nan.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "train", path, "--target", "income", "--out", tmp_path / "m")
    assert_one_line_error(code, err, "'notes'", "--drop notes")
    assert not (tmp_path / "m").exists()
    assert (
        main(
            [
                "train",
                str(path),
                "--target",
                "income",
                "--drop",
                "notes",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )


def test_bad_config_and_bad_option(
    capsys: pytest.CaptureFixture[str], sample: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "lathe.yaml"
    cfg.write_text("train: {preset: turbo}\n")
    code, _, err = run(capsys, "train", sample, "--target", "income", "--config", cfg)
    assert_one_line_error(code, err, "train.preset")
    assert code == 78
    code, _, err = run(capsys, "train", sample, "--target", "income", "--model", "xgboost")
    assert_one_line_error(code, err, "xgboost")


# ---- bad input at prediction time -------------------------------------------------------


def _rows(tmp_path: Path, name: str, edit) -> Path:  # noqa: ANN001
    frame = pd.read_csv(EXAMPLES / "adult_new.csv").head(20)
    frame = edit(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_predict_missing_column(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path
) -> None:
    path = _rows(tmp_path, "nocol.csv", lambda f: f.drop(columns=["age", "sex"]))
    out_file = tmp_path / "out.csv"
    code, _, err = run(capsys, "predict", artifact, path, "--out", out_file)
    assert_one_line_error(code, err, "nocol.csv", "'age'", "'sex'")
    assert not out_file.exists()


def test_predict_wrong_type(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path
) -> None:
    def edit(f: pd.DataFrame) -> pd.DataFrame:
        f["age"] = f["age"].astype(object)
        f.loc[6, "age"] = "old"
        return f

    out_file = tmp_path / "out.csv"
    out_file.write_text("previous results\n")
    code, _, err = run(
        capsys, "predict", artifact, _rows(tmp_path, "type.csv", edit), "--out", out_file
    )
    assert_one_line_error(code, err, "'age'", "row 7", "'old'")
    assert out_file.read_text() == "previous results\n"  # nothing half-written or lost


def test_predict_extra_columns_unseen_categories_and_nans(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path
) -> None:
    def edit(f: pd.DataFrame) -> pd.DataFrame:
        f["customer_id"] = range(len(f))
        f.loc[0, "workclass"] = "Astronaut"
        f.loc[1, "hours_per_week"] = None
        return f

    path = _rows(tmp_path, "odd.csv", edit)
    code, _, err = run(capsys, "predict", artifact, path, "--out", tmp_path / "ok.csv")
    assert code == 0
    assert "customer_id" in err and "not seen in training" in err and "missing value" in err
    assert len(pd.read_csv(tmp_path / "ok.csv")) == 20
    code, _, err = run(
        capsys, "predict", artifact, path, "--out", tmp_path / "strict.csv", "--strict"
    )
    assert_one_line_error(
        code, err, "customer_id", "Astronaut" if "Astronaut" in err else "workclass"
    )
    assert not (tmp_path / "strict.csv").exists()


def test_tampered_artifact_is_refused(
    capsys: pytest.CaptureFixture[str], artifact: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(artifact, copy)
    booster = next(copy.rglob("lightgbm.txt"))
    booster.write_text(booster.read_text()[:-100])
    code, _, err = run(capsys, "predict", copy, EXAMPLES / "adult_new.csv")
    assert_one_line_error(code, err, "lightgbm.txt", "truncated")
    assert code == 65


def test_evaluate_without_label(capsys: pytest.CaptureFixture[str], artifact: Path) -> None:
    code, _, err = run(capsys, "evaluate", artifact, EXAMPLES / "adult_new.csv")
    assert_one_line_error(code, err, "no label column 'income'")


def test_not_an_artifact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "predict", tmp_path, EXAMPLES / "adult_new.csv")
    assert_one_line_error(code, err, "not a lathe artifact")


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
