"""`lathe train --resume`: a training process killed with SIGKILL mid-run continues from its
last checkpoint and ends with the same model as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.text

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
train:
  params: {mode: finetune, max_epochs: 4, patience: 10, max_length: 24, batch_size: 16,
           freeze_layers: 4, probe_first: false, blend: false}
"""


def _lathe(*args: str) -> list[str]:
    return [sys.executable, "-c", "from lathe.cli import run; run()", *args]


def _values(tree: object, key: str) -> list[object]:
    """Every value stored under `key` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == key] + [
            x for v in tree.values() for x in _values(v, key)]
    if isinstance(tree, list):
        return [x for v in tree for x in _values(v, key)]
    return []


def _train(data: Path, config: Path, out: Path, env: dict[str, str], *extra: str) -> dict:
    done = subprocess.run(_lathe("train", str(data), "--target", "category", "--model", "text",
                                 "--config", str(config), "--out", str(out), "--json", *extra),
                          capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_killed_text_run_resumes_to_the_uninterrupted_result(banking: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    top = banking["category"].value_counts().index[:3]
    frame = banking[banking["category"].isin(top)].groupby("category").head(40)
    data = tmp_path / "intents.csv"
    frame.to_csv(data, index=False)
    config = tmp_path / "lathe.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "LATHE_CACHE_DIR": str(tmp_path / "cache")}
    full = _train(data, config, tmp_path / "full", env)

    out = tmp_path / "cut"
    checkpoint = tmp_path / "cut.checkpoints" / "last.pt"
    victim = subprocess.Popen(
        _lathe("train", str(data), "--target", "category", "--model", "text",
               "--config", str(config), "--out", str(out), "--json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "training ended before the first checkpoint: nothing to kill"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not out.exists()  # a killed run leaves no half-written artifact

    resumed = _train(data, config, out, env, "--resume")
    assert resumed["test_metrics"] == full["test_metrics"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [v for v in _values(manifest, "resumed_from") if v is not None] == [1], _values(manifest, "training")
    assert not checkpoint.parent.exists()  # a finished run cleans up its checkpoints
