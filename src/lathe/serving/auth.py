"""API keys with scopes and a per-key token-bucket rate limit.

The key file holds only sha256 hashes, so a leaked file leaks no keys::

    # keys.yaml  (make a key: python -c "from lathe.serving.auth import new_key; print(new_key())")
    keys:
      - name: web-frontend
        sha256: 6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b
        scopes: [predict]
        rate_per_second: 50      # optional; sustained requests per second (default 100)
        burst: 100               # optional; bucket size (default 2 x rate)
      - name: ops
        sha256: ...
        scopes: [predict, admin]
      - name: partner-a
        sha256: ...
        scopes: [predict]
        models: [churn]          # optional; only these served models (default: every one)
      - name: old-laptop
        sha256: ...
        revoked: true            # optional; refused with 401, and the log says which key

Scopes are the server's roles: `predict` (also allows `feedback` and `explain`, as before
these were scopes of their own), `feedback` (send outcomes only), `explain`, `admin`.
Clients send `Authorization: Bearer KEY` (or `X-API-Key: KEY`). No, unknown or revoked key
-> 401, a key without the scope or for another model -> 403, an empty bucket -> 429 with
`Retry-After`. Every key is compared in constant time against every entry.

>>> keys = KeyRing([ApiKey("ops", hash_key("s3cret"), frozenset({"admin"}), 1.0, 1.0)])
>>> keys.check("s3cret", "admin").name
'ops'
>>> keys.check("s3cret", "admin")
Traceback (most recent call last):
lathe.errors.RateLimited: key 'ops' is over its rate limit of 1 request(s)/s. Fix: retry after 1 s, or ask for a higher limit
>>> keys.check("wrong", "predict")
Traceback (most recent call last):
lathe.errors.Unauthorized: unknown API key. Fix: send a valid key as 'Authorization: Bearer KEY'
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lathe.errors import ConfigError, Forbidden, RateLimited, Unauthorized

__all__ = ["ApiKey", "KeyRing", "TokenBucket", "hash_key", "new_key", "load_keys", "SCOPES"]

SCOPES = frozenset({"predict", "feedback", "explain", "admin"})
IMPLIED = {"predict": frozenset({"feedback", "explain"})}
"""Scopes a scope brings along (a `predict` key could always send feedback and explain)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (print it once; store only `hash_key(key)`)."""
    return "lk_" + secrets.token_urlsafe(24)


@dataclass
class TokenBucket:
    """`rate` tokens per second up to `burst`; `take` returns 0 or the seconds to wait."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, now: float | None = None) -> float:
        with self.lock:
            now = time.monotonic() if now is None else now
            if self.tokens < 0:
                self.tokens = self.burst
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    scopes: frozenset[str]
    rate_per_second: float = 100.0
    burst: float = 200.0
    models: frozenset[str] | None = None  # None: every served model
    revoked: bool = False

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or any(scope in IMPLIED.get(s, ()) for s in self.scopes)


class KeyRing:
    def __init__(self, keys: list[ApiKey]) -> None:
        self.by_hash = {k.sha256: k for k in keys}
        self.buckets = {k.sha256: TokenBucket(k.rate_per_second, k.burst) for k in keys}

    def check(self, presented: str | None, scope: str, model: str | None = None) -> ApiKey:
        if not presented:
            raise Unauthorized(
                "this endpoint needs an API key",
                hint="send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            )
        digest = hash_key(presented)
        key = None
        for known, candidate in self.by_hash.items():  # constant-time compare per entry
            if hmac.compare_digest(known, digest):
                key = candidate
        if key is None:
            raise Unauthorized(
                "unknown API key", hint="send a valid key as 'Authorization: Bearer KEY'"
            )
        if key.revoked:
            raise Unauthorized(f"API key {key.name!r} was revoked",
                               hint="ask the server's operator for a new key", key=key.name)
        if not key.allows(scope):
            raise Forbidden(
                f"key {key.name!r} lacks the {scope!r} scope (it has {sorted(key.scopes)})",
                hint=f"use a key with the {scope!r} scope",
                scope=scope,
            )
        if model is not None and key.models is not None and model not in key.models:
            raise Forbidden(
                f"key {key.name!r} may not use model {model[:100]!r} (it may use "
                f"{sorted(key.models)})", hint="use a key issued for that model",
                key=key.name)
        wait = self.buckets[digest].take()
        if wait > 0:
            raise RateLimited(
                f"key {key.name!r} is over its rate limit of {key.rate_per_second:g} request(s)/s",
                hint=f"retry after {math.ceil(wait)} s, or ask for a higher limit",
                retry_after=math.ceil(wait),
            )
        return key


def load_keys(path: str | Path) -> KeyRing:
    """Read and validate a key file (see the module docstring for its shape)."""
    import yaml

    source = Path(path)
    try:
        data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: API key file not found", hint="check --api-keys") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{source}: expected a top-level 'keys:' list with at least one key",
            hint="see `lathe.serving.auth` for the format",
        )
    keys = []
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: key #{i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping with name, sha256, scopes")
        digest = str(entry.get("sha256", "")).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(
                f"{where}: 'sha256' must be 64 hex characters (the hash, never the key itself)",
                hint='hash a key with: python -c "from lathe.serving.auth import hash_key; '
                "print(hash_key('KEY'))\"",
            )
        scopes = frozenset(entry.get("scopes") or ["predict"])
        if not scopes <= SCOPES:
            raise ConfigError(
                f"{where}: unknown scope(s) {sorted(scopes - SCOPES)}; valid scopes are {sorted(SCOPES)}"
            )
        rate = float(entry.get("rate_per_second", 100.0))
        burst = float(entry.get("burst", 2 * rate))
        if rate <= 0 or burst < 1:
            raise ConfigError(f"{where}: rate_per_second must be > 0 and burst >= 1")
        models = entry.get("models")
        if models is not None and (not isinstance(models, list) or
                                   not all(isinstance(m, str) for m in models)):
            raise ConfigError(f"{where}: 'models' must be a list of model names",
                              hint="e.g. models: [churn]; leave it out for every model")
        keys.append(ApiKey(str(entry.get("name", f"key-{i}")), digest, scopes, rate, burst,
                           None if models is None else frozenset(models),
                           bool(entry.get("revoked", False))))
    return KeyRing(keys)
