"""Thread counts for LightGBM fits follow the free cores; OpenMP waits passively; the model
does not depend on the count; `--threads` reaches the fit from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lathe
from lathe.cli import main
from lathe.models._threads import (
    available_cores,
    fit_threads,
    others_running,
    threads_for,
)

ROOT = Path(__file__).resolve().parents[3]


def test_policy_leaves_the_busy_cores_alone() -> None:
    assert threads_for(cores=2, others_running=0) == 2
    assert threads_for(cores=2, others_running=1) == 1
    assert threads_for(cores=8, others_running=3) == 5
    assert threads_for(cores=2, others_running=40) == 1  # never 0
    assert threads_for(cores=4, others_running=None) == 4  # the kernel does not say
    assert fit_threads(3) == 3  # an explicit count is used as given


def test_busy_processes_are_seen_and_leave_one_thread() -> None:
    cores = available_cores()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(cores)]
    try:
        import time

        time.sleep(0.3)  # let them be scheduled
        assert (others_running() or 0) >= cores
        assert fit_threads(None) == 1
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


def test_lightgbm_waits_passively_unless_the_user_chose() -> None:
    code = ("import os; from lathe.models.gbm import import_lightgbm; import_lightgbm(); "
            "print(os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT / "src")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "ACTIVE"


def test_any_entry_to_the_families_sets_the_policy_and_onnx_runtime_follows_it() -> None:
    """The policy holds whichever family module a process imports first (privacy's DP
    linear, the encoder, compression), and ONNX Runtime's pool stops spinning with it."""
    code = (
        "import os, numpy as np\n"
        "import lathe.models\n"
        "print(os.environ['OMP_WAIT_POLICY'])\n"
        "import torch, tempfile, pathlib\n"
        "from lathe.models._torch_onnx import OnnxPredictor\n"
        "path = pathlib.Path(tempfile.mkdtemp()) / 'm.onnx'\n"
        "torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(path),\n"
        "                  input_names=['x'], output_names=['output'], dynamo=False)\n"
        "session = OnnxPredictor(path).session\n"
        "entry = 'session.intra_op.allow_spinning'\n"
        "config = session.get_session_options()\n"
        "try:\n"
        "    print(config.get_session_config_entry(entry))\n"
        "except Exception:\n"
        "    print('default')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = str(ROOT / "src")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["PASSIVE", "0"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.split() == ["ACTIVE", "default"], run.stderr


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=(n, 4))
    c = rng.choice(list("abcdef"), n)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + (c == "a") + rng.normal(scale=0.7, size=n)) > 0.4
    return pd.DataFrame({**{f"x{i}": x[:, i] for i in range(4)}, "c": c,
                         "y": np.where(y, "yes", "no")})


def test_gbm_model_does_not_depend_on_the_thread_count(frame: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    one = lathe.train(frame, target="y", model="gbm", preset="fast", threads=1)
    two = lathe.train(frame, target="y", model="gbm", preset="fast", threads=2)
    trees = [m.family.booster.model_to_string().split("end of trees")[0] for m in (one, two)]
    assert trees[0] == trees[1]
    # the artifacts are the same bytes: the file does not record the fit's thread count
    one.family.save(tmp_path / "a")
    two.family.save(tmp_path / "b")
    assert ((tmp_path / "a" / "lightgbm.txt").read_bytes()
            == (tmp_path / "b" / "lightgbm.txt").read_bytes())


def test_cli_threads_and_positive_class_reach_the_run(
    frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    code = main(["train", str(data), "--target", "y", "--model", "linear", "--threads", "1",
                 "--positive-class", "no", "--out", str(tmp_path / "m"), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["test_metrics"]["positive_class"] == "no"
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["config"]["train"]["threads"] == 1
    assert manifest["config"]["data"]["positive_class"] == "no"
    code = main(["train", str(data), "--target", "y", "--model", "linear",
                 "--positive-class", "maybe", "--out", str(tmp_path / "n")])
    err = capsys.readouterr().err
    assert code == 78 and "--positive-class 'maybe' is not a class of 'y'" in err
    assert not (tmp_path / "n").exists()
