"""Request limits and request ids: body size (413) as ASGI middleware, ids for tracing.

The body limit is checked before the app sees the request: first by Content-Length, then by
counting bytes as they arrive (chunked uploads carry no length).

>>> client_id_from("abc-123"), client_id_from("<bad id>"), len(new_request_id())
('abc-123', None, 32)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from typing import Any

from lathe.errors import LatheError, UsageError

__all__ = [
    "BodyLimitMiddleware",
    "RequestIdMiddleware",
    "client_id_from",
    "new_request_id",
    "PayloadTooLarge",
    "DrainState",
    "GatewayTimeout",
]


class DrainState:
    """Set once SIGTERM arrived: responses then carry ``Connection: close``."""

    def __init__(self) -> None:
        self.draining = False


class PayloadTooLarge(UsageError):
    http_status = 413


class GatewayTimeout(LatheError):
    http_status = 504


_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


_PROCESS_PREFIX = uuid.uuid4().hex[:16]  # unique per worker process
_COUNTER = itertools.count(1)


def client_id_from(header: str | None) -> str | None:
    """A client's X-Request-ID when it is safe to log and store, else None."""
    if header and _SAFE_ID.match(header):
        return header
    return None


def new_request_id() -> str:
    """The server's id for one request (the prediction log's key): a random per-process
    prefix plus a counter, unique across workers and restarts without a urandom call per
    request (uuid4 was ~20 us of the hot path). Never the client's id, which may repeat."""
    return f"{_PROCESS_PREFIX}{next(_COUNTER):016x}"


def _too_large(limit: int) -> bytes:
    return json.dumps(
        {
            "error": "PayloadTooLarge",
            "message": f"the request body is larger than the server's limit of {limit} bytes",
            "hint": "send fewer rows per request, or send large inputs to "
            "/v1/models/NAME/predict/batch as NDJSON (Content-Type: application/x-ndjson)",
        }
    ).encode()


_NDJSON = (b"application/x-ndjson", b"application/jsonl", b"application/ndjson")


BODY_TIMEOUT_S = 30.0
"""Most time a JSON request body may take to arrive (slow-body attacks hold a worker)."""


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`, answered so the client reads it.

    A client that sent ``Expect: 100-continue`` gets the 413 at once and never sends the
    body. Any other client is still writing: closing the connection on it would reset it
    (ECONNRESET) before it reads the answer, so the rest of the body is read and dropped, up
    to `discard_bytes`, and the 413 follows on a connection that stays open. Only a body larger
    than that is cut off (413 with ``Connection: close``). A body that has not fully arrived
    `body_timeout_s` after its headers is answered 408 and the connection closed. NDJSON sent
    to ``/predict/batch`` streams through unbuffered (the route limits each line and the row
    count).
    `on_reject(scope)` counts each 413 in the metrics.
    """

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        discard_bytes: int | None = None,
        on_reject: Any = None,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.discard_bytes = discard_bytes or max(64 << 20, 4 * max_bytes)
        self.on_reject = on_reject
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared, expects_continue, kind = None, False, b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
            elif name == b"expect":
                expects_continue = value.lower() == b"100-continue"
            elif name == b"content-type":
                kind = value.split(b";")[0].strip().lower()
        if kind in _NDJSON and scope["path"].endswith("/predict/batch"):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        try:  # a body trickled in slower than the deadline (slow-body attacks): 408
            async with asyncio.timeout_at(deadline):  # one timer, no task per request
                body = await self._read_body(scope, receive, send, declared, expects_continue)
        except TimeoutError:
            await self._timeout(send)
            return
        if body is None:  # answered already (413) or the client went away
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Any, receive: Any, send: Any, declared: int | None,
                         expects_continue: bool) -> bytes | None:
        if declared is not None and declared > self.max_bytes:
            if expects_continue or declared > self.discard_bytes:
                await self._reject(scope, send, close=True)  # the body never comes / too big
                return None
            await self._discard_then_reject(scope, receive, send, 0)
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_bytes:
                if not more:
                    await self._reject(scope, send, close=False)
                else:
                    await self._discard_then_reject(scope, receive, send, size)
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _discard_then_reject(self, scope: Any, receive: Any, send: Any, size: int) -> None:
        while size <= self.discard_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                await self._reject(scope, send, close=False)
                return
        await self._reject(scope, send, close=True)

    async def _timeout(self, send: Any) -> None:
        payload = json.dumps({"error": "RequestTimeout", "message": "the request body did not "
                              f"arrive within {self.body_timeout_s:g} s",
                              "hint": "send the body at once"}).encode()
        await send({"type": "http.response.start", "status": 408, "headers": [
            (b"content-type", b"application/json"), (b"connection", b"close"),
            (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _reject(self, scope: Any, send: Any, *, close: bool) -> None:
        if self.on_reject is not None:
            self.on_reject(scope)
        payload = _too_large(self.max_bytes)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


class RequestIdMiddleware:
    """Gives every request a server-made id (`request.state.request_id`, unique: the
    prediction log's key) and keeps a client's X-Request-ID beside it
    (`request.state.client_id`). The response's X-Request-ID echoes the client's id when it
    sent one (for its own tracing), else the server's.

    Plain ASGI rather than `@app.middleware("http")`, which costs a task and a stream per
    request on the hot path.
    """

    def __init__(self, app: Any, drain: Any = None, on_status: Any = None,
                 headers: list[tuple[bytes, bytes]] | None = None,
                 csp: tuple[bytes, tuple[str, ...]] | None = None) -> None:
        self.app, self.drain, self.on_status = app, drain, on_status
        # fixed headers for every response, and a CSP for every path but the excluded ones
        self.headers, self.csp = list(headers or []), csp

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        drain, on_status = self.drain, self.on_status
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
        request_id = new_request_id()
        client_id = client_id_from(header)
        state = scope.setdefault("state", {})
        state["request_id"], state["client_id"] = request_id, client_id
        encoded = (client_id or request_id).encode()
        fixed = self.headers
        if self.csp is not None and not scope["path"].startswith(self.csp[1]):
            fixed = [*fixed, (b"content-security-policy", self.csp[0])]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                if on_status is not None:
                    on_status(message["status"])
                headers = [*message.get("headers", []), (b"x-request-id", encoded), *fixed]
                if drain is not None and drain.draining:  # shutting down: tell the client
                    headers = [h for h in headers if h[0] != b"connection"]
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
