"""`GET /v1/models`, `GET /v1/models/{name}`, `/schema`, and `POST /v1/models/{name}/reload`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from lathe.serving.deps import require

__all__ = ["router"]

router = APIRouter(tags=["models"])


def _entry(slot: Any) -> dict[str, Any]:
    return {
        **slot.active.predictor.describe(),
        "source": slot.source.describe(),
        "loaded_at": slot.loaded_at,
        "batching": slot.active.batcher is not None,
    }


@router.get("/v1/models", dependencies=[Depends(require("predict"))])
async def list_models(request: Request) -> dict[str, Any]:
    hub = request.app.state.hub
    return {"models": [_entry(s) for s in hub.slots.values() if s.active is not None]}


@router.get("/v1/models/{name}", dependencies=[Depends(require("predict"))])
async def show_model(name: str, request: Request) -> dict[str, Any]:
    return _entry(request.app.state.hub.get(name))


@router.get("/v1/models/{name}/schema", dependencies=[Depends(require("predict"))])
async def model_schema(name: str, request: Request) -> dict[str, Any]:
    """The fields a request row needs (the web page builds its form from this)."""
    return request.app.state.hub.get(name).active.predictor.schema_json()


@router.post("/v1/models/{name}/reload", dependencies=[Depends(require("admin"))])
async def reload_model(name: str, request: Request) -> dict[str, Any]:
    """Re-resolve the model's source now (instead of waiting for the next poll)."""
    hub = request.app.state.hub
    hub.get(name)
    changed = await hub.reload(name)
    return {"model": name, "version": hub.slots[name].version, "changed": changed}
