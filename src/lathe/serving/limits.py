"""Request limits and request ids: body size (413) as ASGI middleware, ids for tracing.

The body limit is checked before the app sees the request: first by Content-Length, then by
counting bytes as they arrive (chunked uploads carry no length).

>>> client_id_from("abc-123"), client_id_from("<bad id>"), len(new_request_id())
('abc-123', None, 32)
"""

from __future__ import annotations

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
    "GatewayTimeout",
]


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
            "hint": "send fewer rows per request, or use the batch endpoint with a file split "
            "into parts",
        }
    ).encode()


class BodyLimitMiddleware:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Any) -> None:
        payload = _too_large(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class RequestIdMiddleware:
    """Gives every request a server-made id (`request.state.request_id`, unique: the
    prediction log's key) and keeps a client's X-Request-ID beside it
    (`request.state.client_id`). The response's X-Request-ID echoes the client's id when it
    sent one (for its own tracing), else the server's.

    Plain ASGI rather than `@app.middleware("http")`, which costs a task and a stream per
    request on the hot path.
    """

    def __init__(self, app: Any, drain: Any = None) -> None:
        self.app, self.drain = app, drain

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        drain = self.drain
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
        request_id = new_request_id()
        client_id = client_id_from(header)
        state = scope.setdefault("state", {})
        state["request_id"], state["client_id"] = request_id, client_id
        encoded = (client_id or request_id).encode()

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", encoded)]
                if drain is not None and drain.draining:  # shutting down: tell the client
                    headers = [h for h in headers if h[0] != b"connection"]
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
