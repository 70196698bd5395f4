"""`POST /v1/feedback`: attach the true outcome to a prediction, by its request id.

{"request_id": "9f1c…", "outcome": ">50K"}   ->   {"request_id": "9f1c…", "stored": true}
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from lathe.errors import NotFound, UsageError
from lathe.serving.deps import require

__all__ = ["router"]

router = APIRouter(tags=["feedback"])


class Feedback(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)
    outcome: Any


@router.post("/v1/feedback", dependencies=[Depends(require("predict"))])
async def feedback(body: Feedback, request: Request) -> dict[str, Any]:
    log = request.app.state.prediction_log
    if log is None:
        raise UsageError(
            "this server keeps no prediction log, so feedback has nothing to attach to",
            hint="start it with a prediction log URL (the default is sqlite:///.lathe/predictions.db)",
        )
    found = await asyncio.get_running_loop().run_in_executor(
        None, log.attach_outcome, body.request_id, body.outcome
    )
    if not found:
        raise NotFound(
            f"no prediction with request id {body.request_id!r}",
            hint="use the request_id returned by /predict",
            request_id=body.request_id,
        )
    return {"request_id": body.request_id, "stored": True}
