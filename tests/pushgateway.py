"""A real Prometheus Pushgateway for tests (Debian package prometheus-pushgateway, installed
by .ci/run); tests skip with the reason when the binary is missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pushgateway() -> Iterator[str]:
    """The URL of a Pushgateway running for the duration of the block."""
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.skip("no Pushgateway binary (Debian: apt-get install prometheus-pushgateway)")
    port = _free_port()
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                                "--persistence.file="],  # nothing kept between runs
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the Pushgateway did not start within 10 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
        return str(answer.read().decode("utf-8"))
