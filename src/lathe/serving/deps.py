"""Dependencies the routes share: the app's services and the auth check.

Everything a route needs lives on `app.state` (built by `create_app`), so tests can build an
app with any settings and nothing is global.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from lathe.serving.auth import ApiKey

__all__ = ["require", "presented_key"]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey | None]]:
    """A dependency: the caller's key when auth is on and it has `scope`, else an error."""

    # async on purpose: FastAPI runs a sync dependency in a worker thread, which cost a
    # thread hop per request (measured: the biggest single overhead under load)
    async def check(request: Request) -> ApiKey | None:
        keys: Any = request.app.state.keys
        if keys is None:
            return None
        # object-level: a key limited to some models is refused on any other one
        model = request.path_params.get("name") if request.scope.get("path_params") else None
        return keys.check(presented_key(request), scope, model)

    check.__name__ = f"require_{scope}"
    return check
