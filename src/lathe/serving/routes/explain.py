"""`POST /v1/models/{name}/explain`: why the model decides as it does, row by row.

Request:  {"rows": [{"age": 41, "workclass": "Private", ...}, ...]}
Response: {"model": "adult", "version": "3f2a…", "request_id": "…",
           "method": "tree_shap", "units": "log-odds",
           "explanations": [{"explained_class": ">50K", "base_value": -1.3,
                             "contributions": {"age": 0.41, ...}}]}
Contributions plus the base value give the explained output (see lathe.explain). Rows are
validated like /predict; the work runs in a worker thread under the server's timeout.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from lathe.errors import UsageError
from lathe.serving.deps import require
from lathe.serving.hardening import too_deep
from lathe.serving.limits import GatewayTimeout, PayloadTooLarge
from lathe.serving.predictor import rows_of

__all__ = ["router", "MAX_ROWS"]

router = APIRouter(tags=["explain"])
# sampled Shapley values cost (features + 1) x permutations model rows per explained row
MAX_ROWS = 100


def _explain(model: Any, rows: list[Any]) -> dict[str, Any]:
    import pandas as pd

    from lathe.explain import explain_rows

    frame = pd.DataFrame(rows)
    contributions = explain_rows(model, frame)
    attrs = contributions.attrs
    classes = attrs["explained_class"] or [None] * len(contributions)
    return {
        "method": attrs["method"],
        "units": attrs["units"],
        "explanations": [
            {
                "explained_class": cls,
                "base_value": base,
                "contributions": {str(k): float(v) for k, v in values.items()},
            }
            for cls, base, (_, values) in zip(
                classes, attrs["base_value"], contributions.iterrows(), strict=True
            )
        ],
    }


@router.post(
    "/v1/models/{name}/explain",
    summary="Per-feature contributions for a few rows (TreeSHAP for gbm, sampled Shapley otherwise)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["rows"],
                        "properties": {
                            "rows": {
                                "type": "array",
                                "items": {"type": "object"},
                                "minItems": 1,
                                "maxItems": MAX_ROWS,
                            }
                        },
                    },
                    "example": {"rows": [{"age": 41, "workclass": "Private"}]},
                }
            },
        }
    },
)
async def explain(name: str, request: Request) -> Response:
    await _check_key(request)
    state = request.app.state
    active = state.hub.get(name).active
    predictor = active.predictor
    request.state.model_version = predictor.version
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"the request body is not valid JSON: {error}", hint="send JSON") from None
    except RecursionError:
        raise too_deep("the request body") from None
    rows = rows_of(body)
    if len(rows) > MAX_ROWS:
        raise PayloadTooLarge(
            f"{len(rows)} rows to explain in one request; the limit is {MAX_ROWS}",
            hint="explain fewer rows per request",
            rows=len(rows),
            limit=MAX_ROWS,
        )
    predictor.prepare(rows)  # the same validation as /predict: 422 naming row and field
    loop = asyncio.get_running_loop()
    try:
        result = await asyncio.wait_for(
            loop.run_in_executor(state.executor, _explain, predictor.model, rows),
            state.settings.timeout_s,
        )
    except TimeoutError:
        raise GatewayTimeout(
            f"the explanation took longer than the server's limit of "
            f"{state.settings.timeout_s:g} s",
            hint="explain fewer rows per request",
        ) from None
    payload = {
        "model": name,
        "version": predictor.version,
        "request_id": request.state.request_id,
        **result,
    }
    return Response(json.dumps(payload, default=_plain).encode(), media_type="application/json")


_check_key = require("explain")


def _plain(value: Any) -> Any:
    import numpy as np

    return value.item() if isinstance(value, np.generic) else str(value)
