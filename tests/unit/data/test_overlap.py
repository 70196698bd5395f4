"""Rows a model trained on are recognised when it is evaluated or compressed on them again."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.compression import compress
from lathe.data.overlap import HASHES_FILE, count_seen, row_hashes
from lathe.model import Model


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    return pd.DataFrame({"row_id": np.arange(n), "x": x, "c": rng.choice(list("abc"), n),
                         "y": np.where(x + rng.normal(size=n) > 0, "yes", "no")})


@pytest.fixture(scope="module")
def saved(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("overlap") / "m"
    lathe.train(frame, target="y", model="linear", threads=1).save(path)
    return path


def test_hashes_are_stable_across_processes_and_rereads(frame, tmp_path):
    here = row_hashes(frame[["x", "c"]])
    csv = tmp_path / "f.csv"
    frame.to_csv(csv, index=False)
    code = ("import sys, numpy as np, pandas as pd; from lathe.data.overlap import row_hashes; "
            f"f = pd.read_csv({str(csv)!r}); np.save(sys.argv[1], row_hashes(f[['x', 'c']]))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.npy")], check=True)
    assert np.array_equal(here, np.load(tmp_path / "h.npy"))
    assert count_seen(here, frame[["x", "c"]].iloc[::-1]) == len(frame)  # order does not matter
    changed = frame[["x", "c"]].assign(x=frame.x + 1e-9)
    assert count_seen(here, changed) == 0


def test_evaluate_counts_training_rows(frame, saved):
    model = lathe.load(saved)
    manifest = json.loads((saved / "manifest.json").read_text())
    record = manifest["lineage"]["training_rows"]
    assert record["file"] == HASHES_FILE and HASHES_FILE in manifest["files"]
    assert record["distinct"] == len(frame) and record["bytes"] == 8 * len(frame)
    on_train = model.evaluate(frame)["training_overlap"]
    assert on_train == {"rows": 300, "share": 1.0, "of": 300, "method": "row_hashes"}
    # a dropped row id does not hide a row; a changed input does
    mixed = pd.concat([frame.head(50).assign(row_id=-1), frame.tail(30).assign(x=99.0)])
    assert model.evaluate(mixed)["training_overlap"]["rows"] == 50
    # the hashes are lineage, not model: the model's size does not count them
    assert model.evaluate(frame)["model_size_bytes"] < sum(
        p.stat().st_size for p in saved.rglob("*") if p.is_file())


def test_without_refit_the_test_split_is_not_training_data(frame):
    model = lathe.train(frame, target="y", model="linear", threads=1, refit=False)
    rows = model.manifest["lineage"]["rows"]
    assert model.evaluate(frame)["training_overlap"]["rows"] == rows["train"] + rows["valid"]


def test_artifacts_saved_before_fall_back_on_the_dataset_hash(frame, saved, tmp_path):
    model = lathe.load(saved)
    old = Model(model.family, model.schema, model.manifest)  # no row hashes: an old artifact
    old.save(tmp_path / "old")
    assert not (tmp_path / "old" / HASHES_FILE).exists()
    reloaded = lathe.load(tmp_path / "old")
    assert reloaded.evaluate(frame)["training_overlap"] == {
        "rows": 300, "share": 1.0, "of": 300, "method": "dataset_hash"}
    assert reloaded.evaluate(frame.head(100))["training_overlap"]["rows"] is None


def test_compress_reports_overlap_and_the_child_keeps_the_rows(frame, saved, tmp_path):
    report = compress(saved, "distill", student="linear", data=frame, out=tmp_path / "c",
                      timing_calls=(2, 1))
    overlap = report["evaluation"]["training_overlap"]
    assert overlap["rows"] == overlap["of"] == report["evaluation"]["rows"] == 60
    child = lathe.load(tmp_path / "c")
    assert np.array_equal(child.training_rows, lathe.load(saved).training_rows)
    fresh = frame.assign(x=frame.x + 10.0)
    held = compress(saved, "distill", student="linear", data=frame, eval_data=fresh,
                    out=tmp_path / "d", timing_calls=(2, 1))
    assert held["evaluation"]["training_overlap"]["rows"] == 0
