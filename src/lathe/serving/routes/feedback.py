"""`POST /v1/feedback`: attach the true outcome to a prediction, by its request id.

    {"request_id": "9f1c…", "outcome": ">50K"}
      -> {"request_id": "9f1c…", "stored": true, "request_ids": ["9f1c…"], "rows": 1,
          "updated": 0}

``request_id`` is the id the server answered with, or the X-Request-ID the client sent. An
outcome must be one of the model's classes (same type) or, for regression, a finite number
(HTTP 422 otherwise). A request of several rows takes ``row`` (0-based), ``row_id`` (the
row's own id field) or ``outcomes`` (one per row). A second outcome for the same row replaces
the latest and keeps the first, both with times (``updated`` counts the rows that already had
one). An X-Request-ID that several requests shared is refused with 409 (nothing stored)
unless ``all_requests`` is true.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from lathe.errors import UsageError
from lathe.predlog import MAX_OUTCOME_CHARS, check_outcome
from lathe.serving.deps import require

__all__ = ["router"]

router = APIRouter(tags=["feedback"])

_MAX_OUTCOMES = 100_000


class Feedback(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)
    outcome: Any = Field(
        default=None, description=f"the true label or value (text at most {MAX_OUTCOME_CHARS})"
    )
    outcomes: list[Any] | None = Field(
        default=None, max_length=_MAX_OUTCOMES, description="one outcome per row, in order"
    )
    row: int | None = Field(default=None, ge=0, description="0-based row of the request")
    row_id: str | None = Field(default=None, min_length=1, max_length=200)
    all_requests: bool = Field(
        default=False, description="store on every request that shared this X-Request-ID"
    )


@router.post("/v1/feedback", dependencies=[Depends(require("feedback"))])
async def feedback(body: Feedback, request: Request) -> dict[str, Any]:
    state = request.app.state
    log = state.prediction_log
    if log is None:
        raise UsageError(
            "this server keeps no prediction log, so feedback has nothing to attach to",
            hint="start it with a prediction log URL (the default is sqlite:///.lathe/predictions.db)",
        )
    if body.outcomes is not None and (body.row is not None or body.row_id is not None):
        raise UsageError(
            "'outcomes' (one per row) cannot be combined with 'row' or 'row_id'",
            hint="send 'outcome' with 'row', or 'outcomes' alone",
        )

    def check(model: str, value: Any) -> Any:
        slot = state.hub.slots.get(model)
        predictor = slot.active.predictor if slot is not None and slot.active else None
        if predictor is None:  # no longer served: check the shape only
            return check_outcome(value, task=None, classes=None)
        return check_outcome(value, task=predictor.task, classes=predictor.classes)

    result = await asyncio.get_running_loop().run_in_executor(
        None,
        lambda: log.attach_outcome(
            body.request_id,
            body.outcome,
            outcomes=body.outcomes,
            row=body.row,
            row_id=body.row_id,
            all_requests=body.all_requests,
            check=check,
        ),
    )
    return {"request_id": body.request_id, "stored": True, **result}
