"""API keys: hashed storage, scopes (401/403), per-key rate limits (429 + Retry-After)."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from lathe.errors import ConfigError, RateLimited
from lathe.serving import ServeSettings
from lathe.serving.auth import TokenBucket, hash_key, load_keys, new_key

PREDICT_KEY, ADMIN_KEY, SLOW_KEY = new_key(), new_key(), new_key()


@pytest.fixture()
def keys_file(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "keys": [
                    {"name": "app", "sha256": hash_key(PREDICT_KEY), "scopes": ["predict"]},
                    {"name": "ops", "sha256": hash_key(ADMIN_KEY), "scopes": ["predict", "admin"]},
                    {
                        "name": "slow",
                        "sha256": hash_key(SLOW_KEY),
                        "scopes": ["predict"],
                        "rate_per_second": 0.5,
                        "burst": 2,
                    },
                ]
            }
        )
    )
    return path


def test_key_file_holds_hashes_not_keys(keys_file):
    text = keys_file.read_text()
    assert PREDICT_KEY not in text and hash_key(PREDICT_KEY) in text
    assert load_keys(keys_file).check(PREDICT_KEY, "predict").name == "app"


def test_bad_key_files_say_what_is_wrong(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"keys": [{"name": "x", "sha256": "my-secret-key"}]}))
    with pytest.raises(ConfigError, match="64 hex characters"):
        load_keys(plain)
    scope = tmp_path / "scope.yaml"
    scope.write_text(yaml.safe_dump({"keys": [{"sha256": "a" * 64, "scopes": ["root"]}]}))
    with pytest.raises(ConfigError, match="unknown scope"):
        load_keys(scope)
    with pytest.raises(ConfigError, match="not found"):
        load_keys(tmp_path / "nope.yaml")


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=2.0, stamp=0.0)
    assert bucket.take(0.0) == 0 and bucket.take(0.0) == 0
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0  # one token came back after 0.5 s


def test_auth_off_is_refused_off_localhost():
    with pytest.raises(ValidationError, match="without API keys is refused"):
        ServeSettings(models=["m"], host="0.0.0.0")
    assert ServeSettings(models=["m"], host="localhost").auth_enabled is False


def test_401_403_and_allowed(client_for, adult_model_dir, keys_file, holdout_rows):
    client = client_for(models=[str(adult_model_dir)], api_keys=keys_file)
    url, body = "/v1/models/adult/predict", {"rows": holdout_rows[:1]}
    none = client.post(url, json=body)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    wrong = client.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Unauthorized"
    ok = client.post(url, json=body, headers={"Authorization": f"Bearer {PREDICT_KEY}"})
    assert ok.status_code == 200
    ok_header = client.post(url, json=body, headers={"X-API-Key": PREDICT_KEY})
    assert ok_header.status_code == 200
    forbidden = client.post("/v1/models/adult/reload", headers={"X-API-Key": PREDICT_KEY})
    assert forbidden.status_code == 403 and "'admin'" in forbidden.json()["message"]
    admin = client.post("/v1/models/adult/reload", headers={"X-API-Key": ADMIN_KEY})
    assert admin.status_code == 200 and admin.json()["changed"] is False
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").status_code == 200  # probes need no key
    assert client.get("/metrics").status_code == 200  # scrapers neither (metrics_public)


def test_rate_limit_is_429_with_retry_after(client_for, adult_model_dir, keys_file, holdout_rows):
    client = client_for(models=[str(adult_model_dir)], api_keys=keys_file)
    headers = {"Authorization": f"Bearer {SLOW_KEY}"}
    statuses = [
        client.post("/v1/models/adult/predict", json={"rows": holdout_rows[:1]}, headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    limited = statuses[2]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "RateLimited"
    # other keys have their own buckets
    other = client.post(
        "/v1/models/adult/predict",
        json={"rows": holdout_rows[:1]},
        headers={"Authorization": f"Bearer {PREDICT_KEY}"},
    )
    assert other.status_code == 200
    assert 'status="429"' in client.get("/metrics").text


def test_rate_limited_error_carries_retry_after():
    from lathe.serving.auth import ApiKey, KeyRing

    ring = KeyRing([ApiKey("k", hash_key("k"), frozenset({"predict"}), 1.0, 1.0)])
    ring.check("k", "predict")
    with pytest.raises(RateLimited) as caught:
        ring.check("k", "predict")
    assert caught.value.details["retry_after"] == 1
