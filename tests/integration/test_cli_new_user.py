"""What a new user trips over (issue #19, items 11, 13, 15): an existing artifact is not
overwritten silently, the version prints, exit codes are documented, `check` says which task
it inferred, `registry list` fits 80 columns, and `compare` ranks families on one split."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lathe.cli import main
from lathe.errors import LatheError

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=n),
                          "city": rng.choice(["a", "b", "c"], size=n),
                          "y": np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no")})
    path = tmp_path_factory.mktemp("new_user") / "small.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_refuses_an_existing_artifact_unless_forced(
        capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    args = ("train", small, "--target", "y", "--model", "linear", "--out", out)
    assert run(capsys, *args)[0] == 0
    before = _tree_digest(out)
    code, _, err = run(capsys, *args)
    assert code == 75 and "already holds an artifact" in err and "--force" in err
    assert "Traceback" not in err
    assert _tree_digest(out) == before  # nothing in the existing artifact was touched
    assert not out.with_name("m.checkpoints").exists()
    code, out_text, _ = run(capsys, *args, "--seed", "1", "--force", "--json")
    assert code == 0 and json.loads(out_text)["path"] == str(out)
    assert _tree_digest(out) != before


def test_train_refuses_a_directory_that_is_not_an_artifact(
        capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "train", small, "--target", "y", "--out", out, "--force")
    assert code == 2 and "not a lathe artifact" in err
    assert (out / "notes.txt").read_text() == "keep me"


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from lathe import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


def test_every_exit_code_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", readme, flags=re.M)}
    codes = {0, 2, 70, 130}
    stack: list[type[LatheError]] = [LatheError]
    while stack:
        cls = stack.pop()
        codes.add(cls.exit_code)
        stack.extend(cls.__subclasses__())
    assert codes <= table, sorted(codes - table)
    assert "counts the study's total" in readme or "the study's total" in readme


def test_check_says_which_task_it_inferred_and_how_to_choose_another(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "stars.csv"
    pd.DataFrame({"x": rng.normal(size=400), "stars": rng.integers(1, 8, size=400)}).to_csv(
        path, index=False)
    code, _, err = run(capsys, "check", path, "--target", "stars")
    assert code == 0
    text = " ".join(err.split())
    assert "multiclass" in text and "7 whole numbers" in text and "--task regression" in text
    code, out, _ = run(capsys, "check", path, "--target", "stars", "--json")
    payload = json.loads(out)
    assert payload["task"] == "multiclass" and "--task regression" in payload["task_note"]


def test_registry_list_fits_80_columns(make_store_with_versions: tuple[str, str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from lathe.cli import registry as registry_cli

    store, name = make_store_with_versions
    buffer = io.StringIO()
    monkeypatch.setattr(registry_cli, "console", lambda: Console(file=buffer, width=80))
    assert main(["registry", "list", name, "--store", store]) == 0
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "0.8123" in text and "0.7001" in text and "roc_auc" in text  # metrics, whole
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)) == 2  # dates, whole


@pytest.fixture()
def make_store_with_versions(small: Path, tmp_path: Path) -> tuple[str, str]:
    import lathe

    store, name = f"sqlite:///{tmp_path}/reg.db", "a-model-with-a-rather-long-name"
    for n, auc in enumerate((0.8123, 0.7001)):
        model = lathe.train(small, target="y", model="linear",  # two different artifacts
                            drop_columns=["z"] if n else None)
        model.manifest["metrics"]["test"]["roc_auc"] = auc
        path = model.save(tmp_path / f"v{n}")
        lathe.register(path, name, note="weekly retrain after the feed was fixed " * (n + 1),
                       store=store)
    return store, name


def test_compare_ranks_families_on_one_split_and_saves_the_winner(
        capsys: pytest.CaptureFixture[str], small: Path, tmp_path: Path) -> None:
    out = tmp_path / "winner"
    code, text, _ = run(capsys, "compare", small, "--target", "y", "--models", "linear,gbm",
                        "--out", out, "--json")
    assert code == 0
    board = json.loads(text)
    assert board["metric"] == "roc_auc" and board["task"] == "binary"
    assert [row["model"] for row in board["models"]] == sorted(
        ["linear", "gbm"], key=lambda m: -next(r["roc_auc"] for r in board["models"]
                                                if r["model"] == m))
    for row in board["models"]:
        for key in ("accuracy", "f1", "log_loss", "fit_seconds", "predict_rows_per_second",
                    "size_bytes"):
            assert row[key] > 0, (row["model"], key)
        assert row["n_rows"] == board["models"][0]["n_rows"]  # the same test split
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == board["winner"] and manifest["name"] == "winner"
    code, _, err = run(capsys, "compare", small, "--target", "y", "--models", "linear")
    assert code == 0 and max(len(line) for line in err.splitlines()) <= 80
    for shown in ("roc_auc", "f1_weighted", "log_loss", "fit seconds", "predict rows/s", "size",
                  "winner by roc_auc"):
        assert shown in err, shown  # every metric, in 80 columns
    code, _, err = run(capsys, "compare", small, "--target", "y", "--models", "lienar")
    assert code == 78 and "did you mean 'linear'" in err
