"""A server needs no training code: `lathe serve` of a gbm artifact, in a fresh interpreter
with PYTHONPROFILEIMPORTTIME=1, answers a prediction over HTTP without ever importing
lathe.training, lathe.tuning, lathe.compression, optuna or torch (the import log says so).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from lathe.model import Model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
FORBIDDEN = ("lathe.training", "lathe.tuning", "lathe.compression", "optuna", "torch")
# `import time:   self |  cumulative | name` (the name indented by its import depth)
IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)\s*$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"lathe serve exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"lathe serve was not ready within {timeout_s:.0f} s")


def imported_modules(import_log: str) -> set[str]:
    """Every module named in a PYTHONPROFILEIMPORTTIME log.

    >>> sorted(imported_modules("import time: 12 |  30 |   lathe.models.gbm\\nother"))
    ['lathe.models.gbm']
    """
    return {m.group(1) for line in import_log.splitlines() if (m := IMPORT_LINE.match(line))}


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_serving_a_gbm_artifact_imports_no_training_code(tmp_path: Path) -> None:
    frame = pd.read_csv(EXAMPLES / "adult.csv").head(400)
    import lathe.api  # the CLI's face trains it: the test process may import anything

    model: Model = lathe.api.train(frame, "income", threads=1, params={"n_estimators": 20})
    artifact = model.save(tmp_path / "adult-gbm")
    row = frame.drop(columns="income").iloc[0].to_dict()

    port = _free_port()
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "LATHE_STORE": f"sqlite:///{tmp_path}/r.db"}
    command = [sys.executable, "-c", "from lathe.cli import run; run()", "serve", str(artifact),
               "--port", str(port), "--prediction-log", ""]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc, timeout_s=420)  # generous: a shared, loaded machine
        request = urllib.request.Request(
            f"{base}/v1/models/{artifact.name}/predict",
            data=json.dumps({"rows": [row]}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        proc.terminate()
        try:
            _, log = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, log = proc.communicate()
    assert answer["predictions"][0]["label"] in (">50K", "<=50K")
    modules = imported_modules(log)
    assert "lathe.models.gbm" in modules and "lightgbm" in modules  # the log is the server's
    leaked = sorted(m for m in modules if any(_is_under(m, f) for f in FORBIDDEN))
    assert not leaked, f"serving a gbm artifact imported {leaked}"


@pytest.mark.parametrize("package", FORBIDDEN)
def test_the_import_check_would_see_a_leak(package: str) -> None:
    log = f"import time:       120 |        340 |     {package}.something\n"
    assert any(_is_under(m, package) for m in imported_modules(log))
