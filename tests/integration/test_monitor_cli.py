"""`lathe monitor ...` and `lathe retrain` end to end on a small elec2 stream."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main
from tests.conftest import shared_file


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    data = pd.read_csv(shared_file("elec2", "elec2.csv"))
    root = tmp_path_factory.mktemp("elec2")
    paths = {
        "train": root / "train.csv", "early": root / "early.csv",
        "late": root / "late.parquet", "late_csv": root / "late.csv",
    }
    data.iloc[:3000].to_csv(paths["train"], index=False)
    data.iloc[3000:4500].drop(columns="class").to_csv(paths["early"], index=False)
    data.iloc[30000:33000].to_parquet(paths["late"], index=False)
    data.iloc[30000:33000].to_csv(paths["late_csv"], index=False)
    return paths


@pytest.fixture(scope="module")
def model(stream: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "elec"
    assert main(["train", str(stream["train"]), "--target", "class", "--model", "gbm",
                 "--preset", "fast", "--out", str(out), "--json"]) == 0
    return out


def test_drift_json_shape_between_files(capsys: pytest.CaptureFixture[str],
                                        stream: dict[str, Path], tmp_path: Path) -> None:
    code, out, err = run(capsys, "monitor", "drift", stream["train"], stream["late"], "--json",
                         "--report", tmp_path / "drift.html")
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset_drift"] is True
    for name, col in result["columns"].items():
        assert isinstance(col["drifted"], bool) and isinstance(col["test"], str), name
        assert isinstance(col["statistic"], float) and isinstance(col["threshold"], float)
    assert result["columns"]["vicprice"]["drifted"]
    assert (tmp_path / "drift.html").read_text().startswith("<!DOCTYPE html>")


def test_drift_against_a_models_training_profile(capsys: pytest.CaptureFixture[str],
                                                 stream: dict[str, Path], model: Path) -> None:
    code, out, err = run(capsys, "monitor", "drift", model, stream["early"], "--json")
    assert code == 0, err
    early = json.loads(out)
    code, out, _ = run(capsys, "monitor", "drift", model, stream["late_csv"], "--json")
    late = json.loads(out)
    assert "class" not in late["columns"] and late["label_ignored"] == "class"
    assert late["share_drifted"] > early["share_drifted"]
    code, out, err = run(capsys, "monitor", "drift", stream["train"], stream["late_csv"],
                         "--model", model, "--json")
    assert code == 0, err
    assert json.loads(out)["prediction"]["prediction"]["test"] == "jensenshannon"


def test_drift_bad_input_is_one_line(capsys: pytest.CaptureFixture[str],
                                     stream: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    pd.DataFrame({"period": [0.1], "extra": [1]}).to_csv(other, index=False)
    code, out, err = run(capsys, "monitor", "drift", stream["train"], other)
    assert code == 65 and out == "" and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "monitor", "drift", stream["train"], other, "--json")
    assert code == 65 and json.loads(out)["error"]["type"] == "DataError"
    rules = tmp_path / "drift.yaml"
    rules.write_text("columns:\n  period: {test: kss}\n")
    code, _, err = run(capsys, "monitor", "drift", stream["train"], stream["late"], "--config",
                       rules)
    assert code == 78 and "unknown drift test 'kss'" in err


@pytest.fixture(scope="module")
def registry(model: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    store = f"sqlite:///{tmp_path_factory.mktemp('store')}/lathe.db"
    assert main(["registry", "register", str(model), "--name", "elec", "--store", store,
                 "--json"]) == 0
    assert main(["registry", "promote", "elec", "1", "--store", store, "--json"]) == 0
    return store


def test_performance_windows_by_registry_alias(capsys: pytest.CaptureFixture[str],
                                               stream: dict[str, Path], registry: str,
                                               tmp_path: Path) -> None:
    capsys.readouterr()
    code, out, err = run(capsys, "monitor", "performance", "elec@champion", stream["late_csv"],
                         "--window", 1000, "--store", registry, "--json",
                         "--report", tmp_path / "perf.html")
    assert code == 0, err
    result = json.loads(out)
    assert [(w["start"], w["end"], w["n"]) for w in result["windows"]] == [
        (0, 1000, 1000), (1000, 2000, 1000), (2000, 3000, 1000)]
    for w in result["windows"]:
        assert isinstance(w["accuracy"], float) and isinstance(w["estimated_accuracy"], float)
        assert w["accuracy_ci"][0] <= w["accuracy"] <= w["accuracy_ci"][1]
    assert "base64" in (tmp_path / "perf.html").read_text()
    code, out, err = run(capsys, "monitor", "performance", "elec@champion", stream["early"],
                         "--window", 1000, "--store", registry, "--json")
    assert code == 0, err
    assert [w["accuracy"] for w in json.loads(out)["windows"]] == [None, None]
    code, _, err = run(capsys, "monitor", "performance", "nosuch@champion", stream["early"],
                       "--store", registry)
    assert code == 66 and len(err.strip().splitlines()) == 1


def test_monitor_run_exit_codes(capsys: pytest.CaptureFixture[str], stream: dict[str, Path],
                                registry: str, tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"model: elec@champion\nstore: {registry}\ncurrent: {stream['late_csv']}\n"
        "window: 1000\nrules:\n  - {metric: accuracy, below: 0.99, for: 2}\n"
        "  - {metric: share_drifted, above: 0.99}\n"
        "outputs: {prometheus: out/m.prom, events: out/events.jsonl}\n")
    capsys.readouterr()
    code, out, err = run(capsys, "monitor", "run", "--config", config, "--json")
    assert code == 3, err
    result = json.loads(out)
    assert [r["breached"] for r in result["rules"]] == [True, False]
    assert "lathe_monitor_performance" in (tmp_path / "out" / "m.prom").read_text()
    config.write_text(config.read_text().replace("accuracy, below: 0.99", "acuracy, below: 0.5"))
    code, out, err = run(capsys, "monitor", "run", "--config", config)
    assert code == 78 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown metric 'acuracy'" in err


def test_retrain_registers_a_challenger_with_its_parent(
        capsys: pytest.CaptureFixture[str], stream: dict[str, Path], registry: str,
        tmp_path: Path) -> None:
    recent = tmp_path / "recent.csv"
    pd.read_csv(stream["late_csv"]).iloc[:2000].to_csv(recent, index=False)
    capsys.readouterr()
    code, out, err = run(capsys, "retrain", "elec", "--data", recent, "--store", registry,
                         "--alias", "challenger", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["fit_rows"], result["holdout_rows"]) == (1600, 400)
    assert result["parent"] == "elec:1" and result["promoted"] is False
    assert isinstance(result["challenger_score"], float)
    # the registry holds the challenger; no staging folder is left behind in the temp dir
    assert result["artifact"] is None
    import tempfile
    assert not list(Path(tempfile.gettempdir()).glob("elec-retrain-*"))
    code, out, err = run(capsys, "registry", "list", "elec", "--store", registry, "--json")
    listed = json.loads(out)
    version = int(result["challenger"].split(":")[1])
    row = next(v for v in listed["versions"] if v["version"] == version)
    assert row["parent"] == "elec:1" and listed["aliases"]["challenger"] == version
    code, out, err = run(capsys, "retrain", "elec", "--data", recent, "--store", registry,
                         "--json")
    assert code == 0, err
    gated = json.loads(out)
    assert isinstance(gated["promoted"], bool) and gated["parent"] == "elec:1"
    code, _, err = run(capsys, "retrain", "nosuch", "--data", recent, "--store", registry)
    assert code == 66 and len(err.strip().splitlines()) == 1


def test_prediction_log_as_current_data(capsys: pytest.CaptureFixture[str],
                                        stream: dict[str, Path], registry: str,
                                        tmp_path: Path) -> None:
    from lathe.predlog import PredictionLog, PredictionRecord, open_log

    late = pd.read_csv(stream["late_csv"]).iloc[:300]
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    log = PredictionLog(url)
    for i in range(0, 300, 10):  # requests of 10 rows; outcomes arrive for the first 200
        rows = late.iloc[i:i + 10].drop(columns="class").to_dict("records")
        log.append(PredictionRecord(f"r{i}", "elec", "elec:1", {"rows": rows},
                                    [{"label": "0"}] * 10, 1.0, n_rows=10))
    log.close()
    store = open_log(url)
    for i in range(0, 200, 10):
        store.attach_outcome(f"r{i}", None,
                             outcomes=[str(v) for v in late["class"].iloc[i:i + 10]])
    getattr(store, "close", lambda: None)()
    # one model and version: the log's rows of elec:1 only; another version has none
    from lathe.registry import open_registry

    with open_registry(registry) as reg:
        other = next((v.version for v in reg.list("elec") if v.version != 1), None)
    if other is not None:  # the retrain test registered a challenger
        code, out, err = run(capsys, "monitor", "performance", f"elec:{other}", f"log:{url}",
                             "--store", registry)
        assert code == 65 and "holds version(s) elec:1" in err, err
    code, out, err = run(capsys, "monitor", "performance", "elec:1", f"log:{url}",
                         "--window", 100, "--store", registry, "--json")
    assert code == 0, err
    windows = json.loads(out)["windows"]
    assert [w["n_labelled"] for w in windows] == [100, 100, 0]
    assert windows[2]["accuracy"] is None and windows[2]["estimated_accuracy"] is not None
    code, out, err = run(capsys, "monitor", "drift", stream["train"], f"log:{url}",
                         "--model", "elec:1", "--store", registry, "--json")
    assert code == 0, err
    assert set(json.loads(out)["columns"]) == set(late.columns) - {"class"}
    code, _, err = run(capsys, "monitor", "drift", stream["train"], f"log:{url}",
                       "--model", "elec:1", "--store", registry, "--since", "2999-01-01")
    assert code == 65 and "no rows" in err
