"""The CLI on bad input: one clear line on stderr (what, where, how to fix), a non-zero exit
code, no traceback, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main
from tests.integration.cli_support import EXAMPLES, assert_one_line_error, run


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
