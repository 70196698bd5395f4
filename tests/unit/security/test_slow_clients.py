"""Slow clients against a real server process: headers or a body that trickle in are cut
off (408 and closed) instead of holding a connection forever (slowloris, slow POST), and
hundreds of open connections do not keep an honest client out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_all(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    began, data = time.monotonic(), b""
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - began


def test_slow_headers_and_slow_bodies_are_cut_off(plain_model):
    port = _free_port()
    code = ("import sys; from lathe.serving.server import run_server; "
            "from lathe.serving.settings import ServeSettings; "
            "run_server(ServeSettings(models=[sys.argv[1]], port=int(sys.argv[2]), "
            "prediction_log=None, reload_interval_s=0, body_timeout_s=2))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code, str(plain_model), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        path = f"/v1/models/{plain_model.name}/predict"
        headers = socket.create_connection(("127.0.0.1", port))
        headers.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode())  # never finished
        idle = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
        body = socket.create_connection(("127.0.0.1", port))
        body.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n{".encode())  # 1 of 100 bytes
        answer, seconds = _read_all(body, 20)
        assert answer.startswith(b"HTTP/1.1 408") and b"RequestTimeout" in answer
        assert 1.5 < seconds < 10
        for sock in (headers, idle):
            answer, seconds = _read_all(sock, 30)
            assert answer.startswith(b"HTTP/1.1 408") and seconds < 15  # 10 s from connect
        for sock in (headers, idle, body):
            sock.close()
        # many connections held open at once: an honest client is still served
        crowd = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        finally:
            for sock in crowd:
                sock.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
