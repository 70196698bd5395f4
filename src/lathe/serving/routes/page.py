"""`GET /`: the web page (plain HTML + JS from `static/`, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

__all__ = ["router", "STATIC"]

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["page"], include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")
