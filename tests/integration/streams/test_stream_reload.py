"""The stream follows the registry alias as the server does: promote another version while
it runs, and the messages after the switch are scored (and labelled) by the new version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

import lathe

ADULT = Path(__file__).resolve().parents[3] / "examples" / "data" / "adult.csv"


def _cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "lathe.cli", *args, "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _versions(rabbit: Any, queue: str) -> dict[str, str]:
    return {o["id"]: o["version"] for message in rabbit.read_json(queue) for o in message}


def test_promoting_a_version_reaches_the_running_stream(
    rabbit: Any, names: dict[str, str], stream_model: Path, adult_rows: list[dict[str, Any]],
    tools: Any, tmp_path: Path,
) -> None:
    other = lathe.train(pd.read_csv(ADULT).tail(800), target="income", threads=1,
                        params={"n_estimators": 10}).save(tmp_path / "other")
    env = {**os.environ, "LATHE_STORE": f"sqlite:///{tmp_path}/r.db",
           "LATHE_BLOBS": str(tmp_path / "blobs")}
    _cli(env, "registry", "register", str(stream_model), "--name", "adult")
    _cli(env, "registry", "promote", "adult", "1", "--force", "--reason", "test")
    rabbit.clear(*names.values())
    command = tools.command(Path("adult@champion"), "rabbit", names, "--reload-every", "0.5")
    proc = subprocess.Popen(command, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        rabbit.send(names["in"], tools.messages(adult_rows[:20], prefix="a"))
        deadline = time.monotonic() + 60
        while len(_versions(rabbit, names["out"])) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        first = set(_versions(rabbit, names["out"]).values())
        _cli(env, "registry", "register", str(other), "--name", "adult")
        _cli(env, "registry", "promote", "adult", "2", "--force", "--reason", "test")
        time.sleep(3.0)  # several reload checks
        rabbit.send(names["in"], tools.messages(adult_rows[:20], prefix="b"))
        while len(_versions(rabbit, names["out"])) < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    versions = _versions(rabbit, names["out"])
    assert len(versions) == 40, err
    second = {v for k, v in versions.items() if k.startswith("b")}
    assert len(first) == 1 and len(second) == 1 and first != second
    assert "switched" in err
    rabbit.clear(*names.values())
