"""Over a real socket (uvicorn in a thread): oversized bodies are answered, not reset; every
status is counted; NDJSON batches stream in; OpenAPI examples come from each model."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lathe.serving import ServeSettings, create_app
from lathe.serving.server import DrainingServer, _config, bind_socket


@pytest.fixture()
def live(live_server) -> int:
    return int(live_server.config.port)


@pytest.fixture()
def live_server(tmp_path, adult_model_dir) -> Iterator[DrainingServer]:
    settings = ServeSettings(
        models=[str(adult_model_dir)], port=0, max_body_bytes=20_000, reload_interval_s=0,
        prediction_log=f"sqlite:///{tmp_path}/p.db", max_rows_batch_endpoint=6000,
    )  # fmt: skip
    sock = bind_socket("127.0.0.1", 0)
    app = create_app(settings)
    server = DrainingServer(_config(app, settings, "warning"), app.state.drain)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    server.config.port = sock.getsockname()[1]
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield server
    server.should_exit = True
    thread.join(timeout=60)
    sock.close()


def _raw(port: int, head: bytes, body: bytes = b"", read_first: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        if read_first:  # Expect: 100-continue: the answer comes before any body
            return s.recv(65536)
        s.sendall(body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _length(data: bytes) -> int:
    found = re.search(rb"content-length: (\d+)", data.lower())
    return int(found.group(1)) if found else 0


def test_an_oversized_body_is_read_and_answered_413_and_every_413_is_counted(live, holdout_rows):
    big = json.dumps({"rows": holdout_rows * 3}).encode()  # ~ 60 KB > 20 KB
    assert len(big) > 20_000
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=30)
    conn.request("POST", "/v1/models/adult/predict", big, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 413 and b"limit of 20000 bytes" in response.read()
    # the whole body was read: the same keep-alive connection goes on working
    small = json.dumps({"rows": holdout_rows[:1]}).encode()
    conn.request("POST", "/v1/models/adult/predict", small, {"Content-Type": "application/json"})
    assert conn.getresponse().status == 200
    conn.close()

    head = (
        b"POST /v1/models/adult/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(big)
    )
    early = _raw(live, head, read_first=True)
    assert early.startswith(b"HTTP/1.1 413"), early[:80]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=30)
    conn.request("POST", "/v1/models/adult/predict", chunks(), encode_chunked=True)
    assert conn.getresponse().status == 413
    conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    assert 'lathe_http_responses_total{status="413"} 3.0' in text
    assert re.search(r'lathe_requests_total\{model="adult",status="413",version="\w+"\} 3\.0', text)


def test_ndjson_batches_stream_in_and_large_lines_are_refused(live, holdout_rows):
    rows = (holdout_rows * 25)[:5000]
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    assert len(lines) > 20_000 * 10  # far over the JSON body limit

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(lines), 10_000):
            yield lines[i : i + 10_000]

    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=60)
    conn.request(
        "POST", "/v1/models/adult/predict/batch", chunks(),
        {"Content-Type": "application/x-ndjson"}, encode_chunked=True,
    )  # fmt: skip
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 200, body
    assert len(body["predictions"]) == 5000
    bad = b'{"age": 1}\nnot json\n'
    conn.request(
        "POST", "/v1/models/adult/predict/batch", bad, {"Content-Type": "application/x-ndjson"}
    )
    refused = conn.getresponse()
    assert refused.status == 400 and "line 2" in json.loads(refused.read())["message"]
    too_many = b"".join([json.dumps(rows[0]).encode() + b"\n"] * 6001)
    conn.request(
        "POST", "/v1/models/adult/predict/batch", too_many,
        {"Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    assert conn.getresponse().status == 413
    conn.close()


def test_openapi_examples_come_from_the_served_models_schema(live):
    conn = http.client.HTTPConnection("127.0.0.1", live, timeout=30)
    conn.request("GET", "/openapi.json")
    spec = json.loads(conn.getresponse().read())
    conn.close()
    body = spec["paths"]["/v1/models/{name}/predict"]["post"]["requestBody"]["content"]
    example = body["application/json"]["examples"]["adult"]["value"]["rows"][0]
    assert "education" in example and "income" not in example
    batch = spec["paths"]["/v1/models/{name}/predict/batch"]["post"]["requestBody"]["content"]
    assert "application/x-ndjson" in batch


def test_draining_answers_idle_keep_alive_connections_then_closes_them_without_a_reset(
    live_server, holdout_rows
):
    port = live_server.config.port
    body = json.dumps({"rows": holdout_rows[:1]}).encode()
    headers = {"Content-Type": "application/json"}
    active, idle = (http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(2))
    for conn in (active, idle):
        conn.request("POST", "/v1/models/adult/predict", body, headers)
        first = conn.getresponse()
        assert first.status == 200 and first.read()
    live_server.should_exit = True  # what SIGTERM does
    time.sleep(0.25)  # uvicorn notices within 0.1 s; idle connections get 0.5 s
    active.request("POST", "/v1/models/adult/predict", body, headers)
    answer = active.getresponse()
    assert answer.status == 200 and answer.getheader("connection") == "close"
    answer.read()
    active.close()
    sock = idle.sock
    sock.settimeout(10)
    assert sock.recv(1) == b"", "an idle connection is closed with a FIN, not a reset"
    idle.close()
