"""`POST /v1/models/{name}/predict` (micro-batched) and `/predict/batch` (many rows, one call).

Request:  {"rows": [{"age": 41, "workclass": "Private", ...}, ...]}
Response: {"model": "adult", "version": "3f2a…", "request_id": "…",
           "predictions": [{"label": ">50K", "probabilities": {"<=50K": 0.2, ">50K": 0.8}}]}
          (regression: {"value": 12.5} per row)
          + "client_request_id" when the client sent an X-Request-ID, and "warnings" (a list
          of text) when fields the model does not use or unseen categories were ignored.

`request_id` is made by the server for every request (the prediction log's key: feedback
names it); a client's X-Request-ID is kept beside it and may repeat.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from lathe.errors import UsageError
from lathe.predlog import PredictionRecord, RawJson
from lathe.serving.deps import require
from lathe.serving.hardening import too_deep
from lathe.serving.limits import GatewayTimeout, PayloadTooLarge
from lathe.serving.predictor import rows_of

__all__ = ["router"]

router = APIRouter(tags=["predict"])

_INLINE_ROWS = 64  # validating this many rows costs < 0.2 ms: not worth a thread hop

_ROWS_SCHEMA = {
    "type": "object",
    "required": ["rows"],
    "properties": {"rows": {"type": "array", "items": {"type": "object"}, "minItems": 1}},
}
# examples per served model are filled in from each model's schema (see lathe.serving.app)
_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ROWS_SCHEMA}}}
}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _ROWS_SCHEMA},
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one JSON row object per line"}
            },
        },
    }
}
NDJSON_TYPES = (b"application/x-ndjson", b"application/jsonl", b"application/ndjson")


async def _body(request: Request) -> tuple[bytes, Any]:
    raw = await request.body()
    try:
        return raw, json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"the request body is not valid JSON: {error}", hint="send JSON") from None
    except RecursionError:
        raise too_deep("the request body") from None


async def _ndjson_body(request: Request, max_line: int, max_rows: int) -> tuple[bytes, Any]:
    """Rows sent as NDJSON (one JSON object per line), read as the body streams in, so a
    large batch is never one buffered body; each line is at most `max_line` bytes."""
    rows: list[Any] = []
    pending = b""
    line_no = 0

    def take(line: bytes) -> None:
        nonlocal line_no
        line_no += 1
        if not line.strip():
            return
        try:
            rows.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UsageError(
                f"NDJSON line {line_no} is not valid JSON: {error}",
                hint="send one JSON object per line",
                line=line_no,
            ) from None
        except RecursionError:
            raise too_deep(f"NDJSON line {line_no}") from None
        if len(rows) > max_rows:
            raise PayloadTooLarge(
                f"more than {max_rows} rows in one batch request",
                hint="split the file into parts of at most that many rows",
                limit=max_rows,
            )

    async for chunk in request.stream():
        pending += chunk
        if b"\n" in chunk:
            *lines, pending = pending.split(b"\n")
            for line in lines:
                take(line)
        if len(pending) > max_line:
            raise PayloadTooLarge(
                f"NDJSON line {line_no + 1} is longer than the server's limit of {max_line} bytes",
                hint="one row per line; a row this large is not a table row",
            )
    take(pending)
    body = {"rows": rows}
    return json.dumps(body).encode(), body


def _is_ndjson(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower().encode()
    return kind in NDJSON_TYPES


async def _predict(request: Request, name: str, *, batched: bool) -> Response:
    state = request.app.state
    settings = state.settings
    started = time.perf_counter()
    request_id: str = request.state.request_id
    slot = state.hub.get(name)
    active = slot.active  # one snapshot for the whole request: hot reload cannot split it
    if not batched and _is_ndjson(request):
        raw_body, body = await _ndjson_body(
            request, settings.max_body_bytes, settings.max_rows_batch_endpoint
        )
    else:
        raw_body, body = await _body(request)
    router = state.experiments  # None unless `lathe serve --experiments`
    route = router.route(name, request.headers, body) if router is not None else None
    if route is not None:
        active = route.active
    predictor = active.predictor
    request.state.model_version = predictor.version
    rows = rows_of(body)
    limit = settings.max_rows_per_request if batched else settings.max_rows_batch_endpoint
    if len(rows) > limit:
        raise PayloadTooLarge(
            f"{len(rows)} rows in one request; the limit here is {limit}",
            hint="split the rows over several requests"
            + (" or use /predict/batch" if batched else ""),
            rows=len(rows),
            limit=limit,
        )
    loop = asyncio.get_running_loop()

    async def run() -> Any:
        if len(rows) <= _INLINE_ROWS:
            prepared = predictor.prepare(rows)
        else:
            prepared = await loop.run_in_executor(state.executor, predictor.prepare, rows)
        if batched and active.batcher is not None:
            return await active.batcher.submit(prepared, prepared.n)
        raw = await loop.run_in_executor(state.executor, predictor.predict_raw, prepared)
        state.metrics.observe_batch(name, predictor.version, 1, prepared.n)
        return raw

    try:
        raw = await asyncio.wait_for(run(), settings.timeout_s)
    except TimeoutError:
        if route is not None:
            router.observe(name, route, time.perf_counter() - started, ok=False)
        raise GatewayTimeout(
            f"the prediction took longer than the server's limit of {settings.timeout_s:g} s",
            hint="send fewer rows, or retry when the server is less busy",
        ) from None
    except Exception:
        if route is not None:
            router.observe(name, route, time.perf_counter() - started, ok=False)
        raise
    predictions = json.dumps(predictor.format(raw))
    seconds = time.perf_counter() - started
    state.metrics.observe_request(name, predictor.version, 200, seconds, rows=len(rows))
    client_id: str | None = request.state.client_id
    warnings = active.warnings.check(rows) if active.warnings is not None else []
    if state.prediction_log is not None:
        state.prediction_log.append(
            PredictionRecord(
                request_id,
                name,
                predictor.version,
                _logged_inputs(raw_body, settings.mask_pii),
                RawJson(predictions),
                round(seconds * 1000, 3),
                client_id=_logged(client_id, settings.mask_pii),
                n_rows=len(rows),
                row_ids=_logged(_row_ids(rows, settings.row_id_field), settings.mask_pii),
                **_experiment_fields(route),
            )
        )
    head: dict[str, Any] = {"model": name, "version": predictor.version, "request_id": request_id}
    if client_id is not None:
        head["client_request_id"] = client_id
    if warnings:
        head["warnings"] = warnings
    if router is not None:
        head["variant"] = route.variant if route is not None else None
        if route is not None:
            head["experiment"] = route.experiment
            router.observe(name, route, seconds, ok=True)
            router.shadow(
                name,
                route,
                rows,
                state.prediction_log,
                _shadow_record(request_id, name, raw_body, route,
                               _logged(client_id, settings.mask_pii), settings.mask_pii),
            )
    # the predictions are serialised once, for the response and the log alike
    payload = f'{json.dumps(head)[:-1]}, "predictions": {predictions}}}'
    return Response(payload.encode(), media_type="application/json")


def _row_ids(rows: list[Any], field: str | None) -> list[Any] | None:
    """The rows' own ids (for per-row feedback), when the client sent any."""
    if not field or not rows or type(rows[0]) is not dict or field not in rows[0]:
        return None
    return [row.get(field) if type(row) is dict else None for row in rows]


def _experiment_fields(route: Any, variant: str | None = None) -> dict[str, Any]:
    if route is None:
        return {}
    return {"experiment": route.experiment, "variant": variant or route.variant}


def _logged_inputs(raw_body: bytes, mask_pii: bool) -> RawJson:
    """The request body as the prediction log stores it: as sent, or (with --mask-pii) with
    the PII of every string masked."""
    text = raw_body.decode("utf-8", "replace")
    if not mask_pii:
        return RawJson(text)
    from lathe.privacy.pii import Masker, mask_json

    return RawJson(json.dumps(mask_json(json.loads(text), Masker("redact")),
                              ensure_ascii=False))


def _logged(value: Any, mask_pii: bool) -> Any:
    if not mask_pii or value is None:
        return value
    from lathe.privacy.pii import Masker, mask_json

    return mask_json(value, Masker("redact"))


def _shadow_record(
    request_id: str, name: str, raw_body: bytes, route: Any, client_id: str | None,
    mask_pii: bool = False,
) -> Any:
    """The shadow's log record: same inputs, the treatment's outputs, variant 'shadow'."""

    def make(predictor: Any, raw: Any, seconds: float, n_rows: int) -> PredictionRecord:
        return PredictionRecord(
            f"{request_id}:shadow",
            name,
            predictor.version,
            _logged_inputs(raw_body, mask_pii),
            RawJson(json.dumps(predictor.format(raw))),
            round(seconds * 1000, 3),
            client_id=client_id,
            n_rows=n_rows,
            **_experiment_fields(route, "shadow"),
        )

    return make


# The key is checked in the handler rather than with Depends: FastAPI's dependency solving
# was ~20 % of the in-app time of a one-row request (cProfile, Adult).
_check_predict_key = require("predict")


@router.post(
    "/v1/models/{name}/predict",
    openapi_extra=_BODY,
    summary="Predict a few rows (joined with concurrent requests into one model call)",
)
async def predict(name: str, request: Request) -> Response:
    await _check_predict_key(request)
    return await _predict(request, name, batched=True)


@router.post(
    "/v1/models/{name}/predict/batch",
    openapi_extra=_BATCH_BODY,
    summary="Predict many rows in one call (not micro-batched; larger row limit)",
    description='Send `{"rows": [...]}` as JSON (at most the body limit, `--max-body-bytes`) '
    "or, for large inputs, NDJSON (`Content-Type: application/x-ndjson`, one row object per "
    "line, streamed in chunks; at most `--max-batch-rows` rows, each line at most the body "
    "limit). The answer is the same JSON as /predict.",
)
async def predict_batch(name: str, request: Request) -> Response:
    await _check_predict_key(request)
    return await _predict(request, name, batched=False)
