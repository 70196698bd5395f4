"""A server needs no training code: `lathe serve` of a gbm artifact, in a fresh interpreter
with PYTHONPROFILEIMPORTTIME=1, answers a prediction over HTTP without ever importing
lathe.training, lathe.tuning, lathe.compression, optuna or torch (the import log says so, and
so does the server's sys.modules after the prediction).
"""

from __future__ import annotations

import json
import os
import re
import signal
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
    # The import log misses modules loaded through importlib.import_module (the plug-in
    # registry's lazy entries), so the server also writes its sys.modules on SIGUSR1.
    dump = tmp_path / "modules.json"
    program = ("import json, signal, sys\n"
               "signal.signal(signal.SIGUSR1, lambda *_: open("
               f"{str(dump)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
               "from lathe.cli import run\nrun()\n")
    command = [sys.executable, "-c", program, "serve", str(artifact), "--port", str(port),
               "--prediction-log", ""]
    log_path = tmp_path / "serve.stderr"  # a file, not a pipe: the import log would fill it
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=log_file, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc, timeout_s=300)  # generous: a shared, loaded machine
        request = urllib.request.Request(
            f"{base}/v1/models/{artifact.name}/predict",
            data=json.dumps({"rows": [row]}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while not dump.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # let the write finish
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = log_path.read_text()
    assert answer["predictions"][0]["label"] in (">50K", "<=50K")
    logged = imported_modules(log)
    assert "lightgbm" in logged  # the log is the server's, with the model's imports in it
    leaked = sorted(m for m in logged if any(_is_under(m, f) for f in FORBIDDEN))
    assert not leaked, f"serving a gbm artifact imported {leaked} (PYTHONPROFILEIMPORTTIME)"
    loaded = set(json.loads(dump.read_text()))
    assert "lathe.models.gbm" in loaded
    leaked = sorted(m for m in loaded if any(_is_under(m, f) for f in FORBIDDEN))
    assert not leaked, f"serving a gbm artifact imported {leaked} (sys.modules after a prediction)"


@pytest.mark.parametrize("package", FORBIDDEN)
def test_the_import_check_would_see_a_leak(package: str) -> None:
    log = f"import time:       120 |        340 |     {package}.something\n"
    assert any(_is_under(m, package) for m in imported_modules(log))
