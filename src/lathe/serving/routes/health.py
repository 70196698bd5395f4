"""`/healthz` (the process is alive) and `/readyz` (every model is loaded and answering)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    hub = request.app.state.hub
    models = {name: slot.version for name, slot in hub.slots.items()}
    ready = hub.ready and all(models.values())
    return JSONResponse(
        {"status": "ready" if ready else "loading", "models": models},
        status_code=200 if ready else 503,
    )
