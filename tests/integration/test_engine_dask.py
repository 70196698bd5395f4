"""--engine dask://: a real Dask cluster (a LocalCluster this test starts, reached by its
scheduler address, and dask://local?workers=2 that lathe starts itself) trains gbm with
LightGBM's Dask estimators and scores partitions with the same output as a local predict."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import lathe

ADULT = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.csv"
CLI = [sys.executable, "-m", "lathe.cli"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        yield cluster.scheduler_address.removeprefix("tcp://")
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = pd.read_csv(ADULT, nrows=1500)
    model = lathe.train(frame, target="income", threads=1, params={"n_estimators": 30})
    return Path(model.save(tmp_path_factory.mktemp("engine") / "adult"))


def test_predict_on_dask_writes_what_a_local_predict_writes(
    scheduler: str, model_dir: Path, tmp_path: Path,
) -> None:
    frame = pd.read_csv(ADULT, nrows=3000).drop(columns="income")
    for i in range(3):  # three files: three partitions, scored on two workers
        frame.iloc[i * 1000:(i + 1) * 1000].to_csv(tmp_path / f"rows-{i}.csv", index=False)
    whole = tmp_path / "all.csv"
    frame.to_csv(whole, index=False)
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    subprocess.run([*CLI, "predict", str(model_dir), str(whole), "--proba", "--out",
                    str(local)], check=True, capture_output=True)
    done = subprocess.run([*CLI, "predict", str(model_dir), str(tmp_path / "rows-*.csv"),
                           "--proba", "--out", str(remote), "--engine", f"dask://{scheduler}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "(3 partitions" in " ".join(done.stderr.split())  # rich wraps lines
    assert remote.read_bytes() == local.read_bytes()

    parts = tmp_path / "parts"
    done = subprocess.run([*CLI, "predict", str(model_dir), str(tmp_path / "rows-*.csv"),
                           "--out", f"{parts}/", "--engine", f"dask://{scheduler}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = pd.read_parquet(parts)
    expected = pd.read_csv(local)
    assert len(list(parts.glob("*.parquet"))) == 3
    assert written["prediction"].tolist() == expected["prediction"].tolist()


def test_gbm_trains_on_dask_as_well_as_in_one_process(scheduler: str, tmp_path: Path) -> None:
    frame = pd.read_csv(ADULT, nrows=4000)
    local = lathe.train(frame, target="income", model="gbm", threads=1)
    out = tmp_path / "on-dask"
    frame.to_csv(tmp_path / "adult-4000.csv", index=False)
    done = subprocess.run([*CLI, "train", str(tmp_path / "adult-4000.csv"), "--target",
                           "income", "--model", "gbm",
                           "--out", str(out), "--engine", f"dask://{scheduler}", "--json"],
                          capture_output=True, text=True, timeout=600, input=None)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # nothing but the JSON on stdout
    on_dask = lathe.load(out)
    assert on_dask.manifest["family"] == "gbm"
    assert result["test_metrics"]["roc_auc"] > 0.85
    # same data, same split: close to the single-process fit (Adult sample, 4,000 rows)
    same = lathe.train(frame, target="income", model="gbm", engine=f"dask://{scheduler}")
    assert abs(same.manifest["metrics"]["test"]["roc_auc"]
               - local.manifest["metrics"]["test"]["roc_auc"]) < 0.01


def test_a_scheduler_that_does_not_answer_is_one_line(model_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "predict", str(model_dir), str(ADULT), "--out",
                           str(tmp_path / "x.csv"), "--engine", "dask://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 69, done.stderr
    assert "does not answer" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([*CLI, "train", str(ADULT), "--target", "income", "--engine",
                           "spark://x", "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "dask://HOST:PORT" in done.stderr
