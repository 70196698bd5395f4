"""`GET /v1/experiments`: the experiments this server routes by (empty without --experiments).

    {"experiments": [{"model": "churn", "experiment": "checkout", "mode": "canary",
                      "control": "churn:3", "treatment": "churn:4", "treatment_share": 5.0,
                      "unit": "user_id", "rolled_back": false}]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from lathe.serving.deps import require

__all__ = ["router"]

router = APIRouter(tags=["experiments"])


@router.get("/v1/experiments", dependencies=[Depends(require("predict"))])
async def list_experiments(request: Request) -> dict[str, Any]:
    router_ = request.app.state.experiments
    return {"experiments": router_.summary() if router_ is not None else []}
