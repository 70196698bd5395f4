"""`GET /metrics`: Prometheus text format (public unless settings.metrics_public is off)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state = request.app.state
    if not state.settings.metrics_public and state.keys is not None:
        from lathe.serving.deps import presented_key

        state.keys.check(presented_key(request), "admin")
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
