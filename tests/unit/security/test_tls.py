"""`lathe serve --tls-cert/--tls-key`: a real server process answering HTTPS only."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lathe(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "lathe.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def test_serve_over_tls(tmp_path, plain_model):
    cert, key = _self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    port = _free_port()
    server = _lathe("serve", str(plain_model), "--port", str(port), "--tls-cert", str(cert),
                    "--tls-key", str(key), "--prediction-log", "")
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/readyz", verify=trust, timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None and answer.status_code == 200
        assert "max-age" in answer.headers["strict-transport-security"]
        assert httpx.get(f"https://127.0.0.1:{port}/openapi.json", verify=trust).json()[
            "info"]["title"] == "lathe serving"
        with pytest.raises(httpx.TransportError):  # plain HTTP is not spoken
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_bad_tls_files_are_one_line_exit_2(tmp_path, plain_model):
    cert, _ = _self_signed(tmp_path)
    (tmp_path / "o").mkdir()
    other_cert, other_key = _self_signed(tmp_path / "o")
    for args, expected in (
        (["--tls-cert", str(cert)], "needs both"),
        (["--tls-cert", str(cert), "--tls-key", str(tmp_path / "none.pem")], "no such file"),
        (["--tls-cert", str(cert), "--tls-key", str(other_key)], "do not load together"),
    ):
        done = _lathe("serve", str(plain_model), "--port", str(_free_port()), *args)
        out, err = done.communicate(timeout=60)
        assert done.returncode == 2, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], err
    assert other_cert.exists()
