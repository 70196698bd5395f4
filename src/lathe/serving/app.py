"""`create_app(settings)`: the FastAPI app behind `lathe serve`.

>>> from lathe.serving import ServeSettings, create_app   # doctest: +SKIP
>>> app = create_app(ServeSettings(models=["models/adult"]))  # doctest: +SKIP
>>> # uvicorn.run(app)  or  fastapi.testclient.TestClient(app)

Routers: predict (+ batch), models, health, metrics, feedback, page. Services live on
`app.state` (settings, keys, metrics, hub, executor, prediction_log); the lifespan loads every
model before the first request and shuts the background work down cleanly.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from lathe import __version__
from lathe.errors import LatheError, RateLimited
from lathe.serving.auth import load_keys
from lathe.serving.hardening import CSP, DOCS_PATHS, security_headers
from lathe.serving.limits import BodyLimitMiddleware, DrainState, RequestIdMiddleware
from lathe.serving.observability import LOGGER, ServingMetrics
from lathe.serving.routes import experiments as experiments_routes
from lathe.serving.routes import explain, feedback, health, metrics, models, page, predict
from lathe.serving.settings import ServeSettings
from lathe.serving.state import ModelHub

__all__ = ["create_app", "app_from_env", "SETTINGS_ENV"]


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, default=str).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _count_path(app: FastAPI, path: str, status: int) -> None:
    """Count a response that never reached a route (a 413) under its model, when the path
    names a served one."""
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[:2] == ["v1", "models"] and parts[3] == "predict":
        slot = app.state.hub.slots.get(parts[2])
        if slot is not None:
            app.state.metrics.observe_request(parts[2], slot.version or "unknown", status, 0.0)


def _example_row(predictor: Any) -> dict[str, Any]:
    """A valid row for this model's schema (its own fields, a known category each)."""
    values = {"numeric": 0, "boolean": False, "text": "some text", "datetime": "2026-01-01"}
    row: dict[str, Any] = {}
    for column in predictor.schema.columns:
        if column.kind == "categorical":
            row[column.name] = (column.categories or [None])[0]
        else:
            row[column.name] = values.get(column.kind)
    return row


def _install_openapi_examples(app: FastAPI) -> None:
    """OpenAPI request examples built from each served model's own schema."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        hub = app.state.hub
        examples = {
            name: {
                "summary": f"one row for {name}",
                "value": {"rows": [_example_row(s.active.predictor)]},
            }
            for name, s in hub.slots.items()
            if s.active is not None
        }
        for path in ("/v1/models/{name}/predict", "/v1/models/{name}/predict/batch",
                     "/v1/models/{name}/explain"):  # fmt: skip
            content = spec.get("paths", {}).get(path, {}).get("post", {}).get("requestBody", {})
            body = content.get("content", {}).get("application/json")
            if body is not None and examples:
                body.pop("example", None)
                body["examples"] = examples
        if hub.ready:  # before the models load there is nothing to show yet: do not cache
            app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _count_error(request: Request, status: int) -> None:
    name = request.path_params.get("name") if request.scope.get("path_params") else None
    # only served names become label values: a client must not grow the metric cardinality
    if name in request.app.state.hub.slots and request.url.path.rstrip("/").endswith(
        ("/predict", "/predict/batch")
    ):
        version = getattr(request.state, "model_version", None) or "unknown"
        request.app.state.metrics.observe_request(name, version, status, 0.0)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LatheError)
    async def lathe_error(request: Request, error: LatheError) -> Response:
        status = error.http_status
        _count_error(request, status)
        headers = {}
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.details.get("retry_after", 1))
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if status in (401, 403):  # who tried what, for the operator (never the key itself)
            client = request.client.host if request.client else None
            LOGGER.warning("refused", extra={
                "request_id": getattr(request.state, "request_id", None), "status": status,
                "path": request.url.path[:200], "client": client, "reason": error.message})
        body = {**error.to_dict(), "request_id": getattr(request.state, "request_id", None)}
        return _json(status, body, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        _count_error(request, 422)
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in error.errors()
        ]
        return _json(
            422,
            {
                "error": "RequestValidationError",
                "message": "; ".join(problems),
                "request_id": getattr(request.state, "request_id", None),
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # the router's own 404 (no such path) and 405 (wrong method): the one error shape too
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        body = {"error": names.get(error.status_code, "HTTPError"),
                "message": f"{error.detail}: {request.method} {request.url.path[:200]}",
                "request_id": getattr(request.state, "request_id", None)}
        return _json(error.status_code, body, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # Never a stack trace in a response: it is in the log, findable by request id.
        request_id = getattr(request.state, "request_id", None)
        _count_error(request, 500)
        LOGGER.error(
            "unhandled error",
            exc_info=error,
            extra={"request_id": request_id, "path": request.url.path},
        )
        return _json(
            500,
            {
                "error": "InternalError",
                "message": f"internal error; the server log has the details (request id {request_id})",
                "request_id": request_id,
            },
        )


def _no_native_telemetry() -> dict[str, Any]:
    """Newer FastAPI releases check for OpenTelemetry providers on every request; lathe exports
    Prometheus metrics itself, so turn that off where the option exists (measured ~30 us/req)."""
    import inspect

    if "telemetry" in inspect.signature(FastAPI).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    return {}


def create_app(settings: ServeSettings) -> FastAPI:
    """Build the app; models load when it starts (lifespan), not here."""
    metrics_ = ServingMetrics()
    executor = ThreadPoolExecutor(settings.model_threads, thread_name_prefix="lathe-model")
    hub = ModelHub(settings, metrics_, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.prediction_log:
            from lathe.predlog import PredictionLog

            app.state.prediction_log = PredictionLog(
                settings.prediction_log,
                max_queue=settings.prediction_log_queue,
                on_drop=metrics_.log_dropped.inc,
            )
        started = time.perf_counter()
        try:
            await hub.start()
            if settings.experiments:
                from lathe.serving.experiments import ExperimentRouter

                app.state.experiments = ExperimentRouter.from_settings(hub, settings)
                await app.state.experiments.start()
        except LatheError as error:  # `run_server` re-raises it as one line
            app.state.startup_error = error
            if app.state.prediction_log is not None:
                app.state.prediction_log.close()
            raise
        # the loaded models are long-lived: keep them out of the collector's full scans,
        # which otherwise show up as latency spikes under load
        gc.freeze()
        LOGGER.info(
            "ready",
            extra={
                "models": {n: s.version for n, s in hub.slots.items()},
                "seconds": round(time.perf_counter() - started, 3),
                "auth": "on" if settings.auth_enabled else f"OFF (bound to {settings.host} only)",
                "batching": settings.batching,
            },
        )
        try:
            yield
        finally:
            if app.state.experiments is not None:
                await app.state.experiments.close()
            await hub.close()
            if app.state.prediction_log is not None:
                app.state.prediction_log.close()
            executor.shutdown(wait=False)

    app = FastAPI(
        title="lathe serving",
        version=__version__,
        description="Predictions from lathe artifacts. Send `Authorization: Bearer KEY`.",
        lifespan=lifespan,
        # `--no-docs` hides the schema and the docs; otherwise /openapi.json and /docs
        openapi_url="/openapi.json" if settings.docs else None,
        docs_url="/docs" if settings.docs else None,
        redoc_url=None,
        **_no_native_telemetry(),
    )
    app.state.settings = settings
    app.state.keys = load_keys(settings.api_keys) if settings.api_keys else None
    app.state.metrics = metrics_
    app.state.hub = hub
    app.state.executor = executor
    app.state.prediction_log = None
    app.state.experiments = None  # an ExperimentRouter under `lathe serve --experiments`
    app.state.startup_error = None
    app.state.drain = drain = DrainState()
    if not settings.auth_enabled:
        LOGGER.warning(
            "API keys are OFF: anyone who can reach %s:%s can predict (localhost only)",
            settings.host,
            settings.port,
        )

    _install_error_handlers(app)
    for module in (predict, explain, models, health, metrics, feedback, page, experiments_routes):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        on_reject=lambda scope: _count_path(app, scope["path"], 413),
        body_timeout_s=settings.body_timeout_s,
    )
    # outermost: even a 413 has an id, and every response is counted by status
    app.add_middleware(RequestIdMiddleware, drain=drain, on_status=metrics_.observe_status,
                       headers=security_headers(tls=settings.tls), csp=(CSP, DOCS_PATHS))
    _install_openapi_examples(app)
    return app


SETTINGS_ENV = "LATHE_SERVE_SETTINGS"


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (several workers each build their own app from the
    settings `lathe serve` put, as JSON, in LATHE_SERVE_SETTINGS)."""
    import os

    from lathe.serving.observability import configure_json_logging

    configure_json_logging()  # a fresh worker process: its logs are JSON lines too
    return create_app(ServeSettings.model_validate_json(os.environ[SETTINGS_ENV]))
