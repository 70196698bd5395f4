"""Schemathesis over every endpoint of a real `lathe serve` (bounded here; bench/security.py
runs >= 10,000 requests): no 5xx, no stack trace, every 4xx in the one error shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lathe.serving.auth import hash_key

ROOT = Path(__file__).resolve().parents[3]
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def server(tmp_path: Path, plain_model: Path) -> Any:
    keys = tmp_path / "keys.yaml"
    keys.write_text(json.dumps({"keys": [{"name": "fuzz", "sha256": hash_key("k-fuzz"),
                                          "scopes": ["predict", "admin"],
                                          "rate_per_second": 100000}]}))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lathe.cli", "serve", str(plain_model), "--port", str(port),
         "--api-keys", str(keys), "--prediction-log", f"sqlite:///{tmp_path}/p.db"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    try:
        yield base, plain_model.name
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert "Traceback" not in err  # nor in the server's own log


def _check(operation: Any, case: Any, answer: Any, problems: list[str]) -> None:
    where = f"{operation.method.upper()} {case.formatted_path}"
    if answer.status_code >= 500:
        problems.append(f"{where}: {answer.status_code} {answer.text[:200]}")
    if "Traceback" in answer.text or 'File "' in answer.text:
        problems.append(f"{where}: stack trace in the body")
    if 400 <= answer.status_code < 500 and not {"error", "message"} <= set(answer.json()):
        problems.append(f"{where}: {answer.status_code} not in the error shape")


def _fuzz(operation: Any, fixed: str | None, seen: dict[int, int], problems: list[str]) -> None:
    """Generated requests for one operation (path name `fixed` when given: the served
    model, so bodies reach the model's own validation instead of a 404)."""
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        if fixed is not None:
            case.path_parameters = {**(case.path_parameters or {}), "name": fixed}
        answer = case.call(headers={"Authorization": "Bearer k-fuzz"}, timeout=30)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        _check(operation, case, answer, problems)

    call()


def test_schemathesis_finds_no_5xx_and_no_trace(server):
    base, served = server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    seen: dict[int, int] = {}
    problems: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for fixed in ((None, served) if "{name}" in operation.path else (None,)):
            _fuzz(operation, fixed, seen, problems)
    assert problems == []
    assert sum(seen.values()) >= 60 and 200 in seen and any(400 <= s < 500 for s in seen)
