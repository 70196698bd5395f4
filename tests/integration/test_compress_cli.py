"""`lathe compress` end to end: a real mlp artifact quantized to int8 and pruned structurally,
and the bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("compress")
    data = root / "adult.csv"
    pd.read_csv(ROOT / "examples" / "data" / "adult.csv").head(1500).to_csv(data, index=False)
    mlp, gbm = root / "mlp", root / "gbm"
    assert main(["train", str(data), "--target", "income", "--model", "mlp", "--out", str(mlp),
                 "--json"]) == 0
    assert main(["train", str(data), "--target", "income", "--out", str(gbm), "--json"]) == 0
    return data, mlp, gbm


def test_int8_with_a_chosen_scheme_writes_a_measured_child(
        trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, mlp, _ = trained
    capsys.readouterr()
    out = mlp.with_name("mlp-int8")
    code = main(["compress", str(mlp), "--method", "int8", "--scheme", "dynamic",
                 "--data", str(data), "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["settings"]["quantization"] == "dynamic"
    assert report["child"]["family"] == "onnx-int8" and report["agreement"] >= 0.95
    assert set(report["table"]) >= {"size_bytes", "latency_ms_p50_batch1", "accuracy", "roc_auc"}
    manifest = json.loads((out / "manifest.json").read_text())
    parent = manifest["lineage"]["parent"]
    assert Path(parent["path"]).resolve() == mlp.resolve() and parent["family"] == "mlp"
    assert len(parent["sha256"]) == 64
    assert main(["evaluate", str(out), str(data), "--json"]) == 0  # evaluate uses it unchanged


@pytest.mark.parametrize(("args", "fragment"), [
    (["--method", "int8", "--scheme", "turbo"], "unknown int8 scheme 'turbo'"),
    (["--method", "shrink"], "shrink"),
    (["--method", "prune", "--sparsity", "1.5"], "--sparsity must be in [0, 1), got 1.5"),
    (["--method", "prune", "--kind", "random"], "unknown prune kind 'random'"),
])
def test_bad_compress_options_get_one_line(trained: tuple[Path, Path, Path], args: list[str],
                                           fragment: str, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    data, mlp, _ = trained
    capsys.readouterr()
    code = main(["compress", str(mlp), *args, "--data", str(data), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_int8_of_a_tree_model_points_to_prune_and_distill(
        trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    data, _, gbm = trained
    capsys.readouterr()
    code = main(["compress", str(gbm), "--method", "int8", "--data", str(data),
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code != 0 and "--method prune" in err and "Traceback" not in err


def test_structured_prune_of_an_mlp_writes_a_smaller_child_that_evaluates(
        trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, mlp, _ = trained
    capsys.readouterr()
    out = mlp.with_name("mlp-pruned")
    code = main(["compress", str(mlp), "--method", "prune", "--kind", "structured",
                 "--sparsity", "0.5", "--data", str(data), "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    settings = report["settings"]
    assert settings["kind"] == "structured" and settings["hidden_sizes_parent"] == [256, 128]
    assert sum(settings["hidden_sizes"]) == 192 and settings["recovery"]["epochs"] >= 1
    assert settings["parameters"] < settings["parameters_parent"]
    assert report["table"]["size_bytes"]["ratio"] < 0.6
    assert main(["evaluate", str(out), str(data), "--json"]) == 0


def test_structured_prune_of_a_tree_model_gets_one_line(
        trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    data, _, gbm = trained
    capsys.readouterr()
    code = main(["compress", str(gbm), "--method", "prune", "--kind", "structured",
                 "--data", str(data), "--out", str(tmp_path / "x")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "gbm pruning always removes whole trees" in lines[0]
    assert not (tmp_path / "x").exists()
