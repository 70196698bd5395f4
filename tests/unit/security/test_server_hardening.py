"""The server against hostile traffic (OWASP API Top 10 items that apply): object-level
authorization, broken authentication, resource consumption, misconfiguration, traversal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lathe.errors import Unauthorized
from lathe.serving.auth import hash_key


def _rows(frame: pd.DataFrame, n: int = 2) -> list[dict[str, Any]]:
    features = frame.drop(columns=["income"]).head(n)
    return json.loads(features.to_json(orient="records"))


@pytest.fixture()
def keyfile(tmp_path: Path) -> Path:
    entries = [
        {"name": "all", "sha256": hash_key("k-all"), "scopes": ["predict", "admin"]},
        {"name": "only-a", "sha256": hash_key("k-a"), "scopes": ["predict"], "models": ["a"]},
        {"name": "labels", "sha256": hash_key("k-fb"), "scopes": ["feedback"]},
        {"name": "gone", "sha256": hash_key("k-old"), "scopes": ["predict"], "revoked": True},
    ]
    path = tmp_path / "keys.yaml"
    path.write_text(json.dumps({"keys": entries}))  # JSON is YAML
    return path


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from lathe.serving import ServeSettings, create_app

    clients: list[Any] = []

    def make(models: list[str], **kwargs: Any) -> Any:
        kwargs.setdefault("prediction_log", f"sqlite:///{tmp_path}/predictions.db")
        client = TestClient(create_app(ServeSettings(models=models, reload_interval_s=0,
                                                     **kwargs)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def two(tmp_path: Path, plain_model: Path) -> list[str]:
    import shutil

    for name in ("a", "b"):
        shutil.copytree(plain_model, tmp_path / "served" / name)
    return [str(tmp_path / "served" / "a"), str(tmp_path / "served" / "b")]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_scoped_to_model_a_cannot_use_b(serve, two, keyfile, rows):
    client = serve(two, api_keys=keyfile)
    body = {"rows": _rows(rows)}
    assert client.post("/v1/models/a/predict", json=body, headers=_auth("k-a")).status_code == 200
    refused = client.post("/v1/models/b/predict", json=body, headers=_auth("k-a"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "Forbidden" and "'only-a' may not use model 'b'" in \
        refused.json()["message"]
    assert client.post("/v1/models/b/predict", json=body, headers=_auth("k-all")).status_code \
        == 200


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer"}, 401),
    ({"Authorization": "Basic azphbGw="}, 401),
    ({"Authorization": "Bearer k-all\x00"}, 401),
    ({"X-API-Key": "k-al"}, 401),
    ({"Authorization": "Bearer k-old"}, 401),
    ({"Authorization": "Bearer k-fb"}, 403),  # a feedback-only key cannot predict
])
def test_broken_authentication_is_refused_in_the_one_error_shape(serve, two, keyfile, rows,
                                                                 headers, status):
    client = serve(two, api_keys=keyfile)
    answer = client.post("/v1/models/a/predict", json={"rows": _rows(rows)}, headers=headers)
    assert answer.status_code == status
    assert set(answer.json()) >= {"error", "message", "request_id"}
    if "k-old" in str(headers):
        assert "'gone' was revoked" in answer.json()["message"]


def test_feedback_scope_reaches_feedback_only(serve, two, keyfile):
    client = serve(two, api_keys=keyfile)
    answer = client.post("/v1/feedback", json={"request_id": "nope", "outcome": 1},
                         headers=_auth("k-fb"))
    assert answer.status_code != 403 and answer.status_code < 500


def test_headers_cors_and_docs(serve, two):
    client = serve(two)
    page = client.get("/", headers={"Origin": "https://evil.example"})
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not any(h.lower().startswith("access-control-") for h in page.headers)
    preflight = client.options("/v1/models/a/predict",
                               headers={"Origin": "https://evil.example",
                                        "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    assert client.get("/openapi.json").status_code == 200
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger UI's CDN
    hidden = serve(two, docs=False)
    assert hidden.get("/openapi.json").status_code == 404
    assert hidden.get("/docs").status_code == 404


def test_resource_consumption_is_a_4xx(serve, two, rows):
    client = serve(two, max_body_bytes=50_000, max_rows_batch_endpoint=1000)
    deep = b'{"rows": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    answer = client.post("/v1/models/a/predict", content=deep,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "too deeply" in answer.json()["message"]
    huge = client.post("/v1/models/a/predict", content=b"[" + b"1," * 40_000 + b"1]",
                       headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    line = json.dumps(_rows(rows, 1)[0]).encode()
    many = client.post("/v1/models/a/predict/batch", content=b"\n".join([line] * 1001),
                       headers={"Content-Type": "application/x-ndjson"})
    assert many.status_code == 413
    deep_line = client.post("/v1/models/a/predict/batch", content=b"[" * 5000 + b"]" * 5000,
                            headers={"Content-Type": "application/x-ndjson"})
    assert deep_line.status_code == 400


def test_mass_assignment_and_traversal_change_nothing(serve, two, rows, tmp_path):
    client = serve(two)
    body = {"rows": _rows(rows), "model": "b", "version": "evil", "threshold": 0}
    answer = client.post("/v1/models/a/predict", json=body)
    assert answer.status_code in (200, 400, 422)
    if answer.status_code == 200:
        assert answer.json()["model"] == "a"
    for path in ("/v1/models/..%2F..%2Fetc%2Fpasswd/predict", "/v1/models/../b/predict",
                 "/static/..%2F..%2Fserving%2Fapp.py", "/v1/models/%00/schema"):
        got = client.post(path, json=body) if path.endswith("predict") else client.get(path)
        assert 400 <= got.status_code < 500, path
        assert "Traceback" not in got.text


def test_the_server_refuses_an_untrusted_model_at_start(serve, two, keydir, monkeypatch):
    monkeypatch.setenv("LATHE_TRUSTED_KEYS", str(keydir / "ci.key.pub"))
    with pytest.raises(Unauthorized, match="is not signed"):
        serve(two[:1])


def test_router_errors_use_the_one_error_shape(serve, two):
    client = serve(two)
    for answer in (client.get("/no/such/path"), client.delete("/v1/models"),
                   client.get("/static/../../etc/passwd")):
        assert 400 <= answer.status_code < 500
        assert {"error", "message", "request_id"} <= set(answer.json())


def test_refusals_are_logged_with_who_and_what(serve, two, keyfile, rows, caplog):
    import logging

    client = serve(two, api_keys=keyfile)
    with caplog.at_level(logging.WARNING, logger="lathe.serving"):
        client.post("/v1/models/b/predict", json={"rows": _rows(rows)}, headers=_auth("k-a"))
        client.post("/v1/models/a/predict", json={"rows": _rows(rows)},
                    headers=_auth("k-secret-guess"))
    refused = [r for r in caplog.records if r.getMessage() == "refused"]
    assert [r.status for r in refused] == [403, 401]  # type: ignore[attr-defined]
    assert "'only-a' may not use model 'b'" in refused[0].reason  # type: ignore[attr-defined]
    assert all("k-secret-guess" not in str(r.__dict__) for r in refused)


SCOPE_TABLE = {  # endpoint -> the scopes that may call it (predict brings feedback, explain)
    "predict": {"predict"},
    "explain": {"predict", "explain"},
    "feedback": {"predict", "feedback"},
    "models": {"predict"},
    "reload": {"admin"},
}


@pytest.fixture()
def scoped(serve, two, tmp_path):
    entries = [{"name": s, "sha256": hash_key(f"k-{s}"), "scopes": [s]}
               for s in ("predict", "feedback", "explain", "admin")]
    path = tmp_path / "scoped.yaml"
    path.write_text(json.dumps({"keys": entries}))
    return serve(two, api_keys=path)


@pytest.mark.parametrize("scope", ["predict", "feedback", "explain", "admin"])
def test_every_scope_endpoint_pair_both_ways(scoped, rows, scope):
    body = {"rows": _rows(rows, 1)}
    calls = {
        "predict": lambda h: scoped.post("/v1/models/a/predict", json=body, headers=h),
        "explain": lambda h: scoped.post("/v1/models/a/explain", json=body, headers=h),
        "feedback": lambda h: scoped.post("/v1/feedback", json={"request_id": "x", "outcome": 1},
                                          headers=h),
        "models": lambda h: scoped.get("/v1/models", headers=h),
        "reload": lambda h: scoped.post("/v1/models/a/reload", headers=h),
    }
    for endpoint, allowed in SCOPE_TABLE.items():
        answer = calls[endpoint](_auth(f"k-{scope}"))
        if scope in allowed:
            assert answer.status_code not in (401, 403), (scope, endpoint, answer.text)
            assert answer.status_code < 500
        else:
            assert answer.status_code == 403, (scope, endpoint, answer.status_code)
            assert "lacks the '" in answer.json()["message"]
