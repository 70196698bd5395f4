"""A real `lathe serve` process: start-up failures in one line, and SIGTERM under load drains
(no connection reset, every answered request logged, exit 0)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

SERVE = [sys.executable, "-m", "lathe.cli", "serve"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[3] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _wait_ready(port: int, proc: subprocess.Popen, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited during start-up"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")


def _load(port: int, body: bytes, stop: threading.Event, out: dict, lock: threading.Lock) -> None:
    """One client on keep-alive connections until the server is gone (bounded in time)."""
    holder: list[http.client.HTTPConnection] = []
    try:
        _requests(port, body, stop, out, lock, holder)
    finally:
        for conn in holder:
            conn.close()


def _count(out: dict, lock: threading.Lock, key: str) -> None:
    with lock:
        out[key] += 1


def _requests(port, body, stop, out, lock, holder) -> None:
    deadline = time.monotonic() + 60
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < deadline:
        if not holder:
            if stop.is_set():
                return
            holder.append(http.client.HTTPConnection("127.0.0.1", port, timeout=30))
        conn = holder[0]
        try:
            conn.request("POST", "/v1/models/adult/predict", body, headers)
            response = conn.getresponse()
            payload = response.read()
            with lock:
                out["status"][response.status] = out["status"].get(response.status, 0) + 1
                if response.status == 200:
                    out["ids"].append(json.loads(payload)["request_id"])
            if not response.will_close:
                continue
        except ConnectionRefusedError:  # the server is gone: its listening socket is closed
            _count(out, lock, "refused")
            return
        except ConnectionResetError:
            _count(out, lock, "reset")
        except (http.client.RemoteDisconnected, BrokenPipeError):
            _count(out, lock, "closed_unanswered")
        holder.pop().close()


def test_sigterm_under_load_answers_or_closes_politely_logs_everything_and_exits_0(
    tmp_path, adult_model_dir, holdout_rows
):
    port = _free_port()
    url = f"sqlite:///{tmp_path}/predictions.db"
    proc = subprocess.Popen(
        [*SERVE, str(adult_model_dir), "--port", str(port), "--prediction-log", url],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(port, proc)
        body = json.dumps({"rows": holdout_rows[:1]}).encode()
        out: dict = {"status": {}, "ids": [], "refused": 0, "reset": 0, "closed_unanswered": 0}
        lock, stop = threading.Lock(), threading.Event()
        threads = [
            threading.Thread(target=_load, args=(port, body, stop, out, lock)) for _ in range(64)
        ]
        for t in threads:
            t.start()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        stop.set()
        code = proc.wait(timeout=60)
        for t in threads:
            t.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.communicate()[1]
    assert code == 0, stderr[-2000:]
    assert out["reset"] == 0 and out["closed_unanswered"] == 0, out | {"ids": len(out["ids"])}
    assert out["status"].get(200, 0) > 64 and set(out["status"]) == {200}
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        logged = {r[0] for r in conn.execute(sa.text("SELECT request_id FROM predictions"))}
    engine.dispose()
    assert set(out["ids"]) <= logged and len(logged) == len(out["ids"]), "one row per 200"


def test_port_in_use_and_unknown_model_fail_in_one_line(tmp_path, adult_model_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [*SERVE, str(adult_model_dir), "--port", str(port), "--prediction-log", ""],
            env=_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert busy.returncode == 69, busy.stderr
    assert "already in use" in busy.stderr and "Traceback" not in busy.stderr
    assert '"ready"' not in busy.stderr and "model loaded" not in busy.stderr
    unknown = subprocess.run(
        [*SERVE, "nosuchmodel", "--port", str(_free_port()), "--prediction-log", "",
         "--store", f"sqlite:///{tmp_path}/store.db"],
        env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert unknown.returncode == 66, unknown.stderr
    assert "nosuchmodel" in unknown.stderr and "Traceback" not in unknown.stderr
    errors = [line for line in unknown.stderr.splitlines() if "nosuchmodel" in line]
    assert len(errors) == 1, unknown.stderr
