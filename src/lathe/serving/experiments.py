"""Experiments in the server: sticky weighted routing, shadow scoring, canary ramps, guardrails.

`lathe serve MODEL --experiments` routes each predict request of a model with a running
experiment (started with `lathe experiment start`; rows in `lathe.registry.experiments_table`) to its control or treatment version:

- **Assignment** hashes ``experiment + unit id`` with SHA-256 into a bucket in [0, 100); the
  unit is in the treatment when its bucket is below the treatment's share. Sticky across
  restarts, workers and machines (no state, no Python ``hash()``); salted by experiment, so
  two experiments split independently; a canary's rising share only moves units from control
  to treatment, never back.
- **Unit id**: the ``X-Unit-Id`` header, else the field named by the experiment's unit in the
  body (top level, or the first row). Without one: a 422, or the control when the server runs
  with ``missing_unit="control"``.
- **Shadow**: the control answers; the treatment scores the same rows after the response is
  built, off the request path, and both are logged (the shadow record goes to the log's
  ``shadow_predictions`` table, its request id the control's + ``:shadow``).
- **Canary**: the treatment's share follows the ramp on its schedule (from the experiment's
  start, so every worker agrees); every ``interval_s`` the guardrails (error rate, p50/p99 of
  the treatment over the last interval) are checked, and a breach rolls the experiment back by
  itself: it is marked stopped in the registry (audited) and all traffic returns to control.

>>> assign("user-42", "checkout", 50.0) == assign("user-42", "checkout", 50.0)
True
>>> bucket("user-42", "checkout") < 25.0 <= 50.0 or assign("user-42", "checkout", 25.0) == \\
...     assign("user-42", "checkout", 0.0)
True
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lathe.errors import DataError
from lathe.serving.observability import LOGGER

__all__ = ["bucket", "assign", "Route", "ExperimentRouter", "MISSING_UNIT"]

MISSING_UNIT = ("reject", "control")
UNIT_HEADER = "x-unit-id"
WINDOW = 10_000  # treatment observations kept per experiment for the guardrails


def bucket(unit: str, salt: str) -> float:
    """A stable position in [0, 100) for this unit in this experiment."""
    digest = hashlib.sha256(f"{salt}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def assign(unit: str, salt: str, treatment_pct: float) -> str:
    return "treatment" if bucket(unit, salt) < treatment_pct else "control"


@dataclass
class Route:
    experiment: str
    variant: str  # "control" | "treatment"
    active: Any  # the serving.state.Active that answers
    shadow: Any = None  # the treatment's Active when it scores in the shadow
    version: str = ""


@dataclass
class _Running:
    record: Any  # lathe.registry.experiments_table.Experiment
    control: Any  # Active
    treatment: Any  # Active
    observed: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    rolled_back: bool = False


class ExperimentRouter:
    """Holds the running experiments of the served models and their two loaded versions."""

    def __init__(
        self,
        hub: Any,
        *,
        store: str | None = None,
        missing_unit: str = "reject",
        interval_s: float = 30.0,
        min_requests: int = 20,
    ) -> None:
        from prometheus_client import Counter, Histogram

        if missing_unit not in MISSING_UNIT:
            raise ValueError(f"missing_unit must be one of {MISSING_UNIT}")
        self.hub, self.store, self.missing_unit = hub, store, missing_unit
        self.interval_s, self.min_requests = interval_s, min_requests
        self.running: dict[str, _Running] = {}  # by served model name
        self._task: asyncio.Task[None] | None = None
        self._last_check = time.monotonic()
        self._background: set[asyncio.Task[Any]] = set()
        registry = hub.metrics.registry
        labels = ("model", "experiment", "variant")
        self.requests = Counter(
            "lathe_experiment_requests",
            "Routed predict requests",
            (*labels, "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "lathe_experiment_latency_seconds",
            "Latency by variant",
            labels,
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    @classmethod
    def from_settings(cls, hub: Any, settings: Any) -> ExperimentRouter:
        return cls(
            hub,
            store=settings.store,
            missing_unit=settings.experiments_missing_unit,
            interval_s=settings.experiments_interval_s,
        )

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh()
        if self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for task in list(self._background):
            await task
        for run in self.running.values():
            await _close(run)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.evaluate()
                await self.refresh()
            except Exception as error:  # keep routing what we have; say why loudly
                LOGGER.error("experiment refresh failed", extra={"error": str(error)})

    async def refresh(self) -> None:
        """Load experiments that started, drop those that stopped (in the registry)."""
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self._read_running)
        for model, record in found.items():
            current = self.running.get(model)
            if current is not None and current.record.name == record.name:
                current.record = record
                continue
            control, treatment = await loop.run_in_executor(None, self._load, record)
            old = self.running.get(model)
            self.running[model] = _Running(
                record, self.hub._make_active(control), self.hub._make_active(treatment)
            )
            LOGGER.info(
                "experiment routing",
                extra={"experiment": record.name, "model": model, "mode": record.mode},
            )
            if old is not None:
                await _close(old)
        for model in [m for m in self.running if m not in found]:
            await _close(self.running.pop(model))

    def _read_running(self) -> dict[str, Any]:
        from lathe.registry import open_registry
        from lathe.registry.experiments_table import read_experiments

        with open_registry(self.store) as registry:
            return {
                e.model: e
                for e in read_experiments(registry.store)
                if e.status == "running" and e.model in self.hub.slots
            }

    def _load(self, record: Any) -> tuple[Any, Any]:
        from lathe.registry import open_registry
        from lathe.serving.predictor import load_predictor

        with open_registry(self.store) as registry:
            out = []
            for ref in (record.control, record.treatment):
                path = registry.materialize(ref)
                out.append(load_predictor(record.model, ref, path))
        return out[0], out[1]

    # ---- per request -----------------------------------------------------------------------
    def route(self, name: str, headers: Any, body: Any) -> Route | None:
        run = self.running.get(name)
        if run is None or run.rolled_back:
            return None
        exp = run.record
        unit = headers.get(UNIT_HEADER) or _unit_from_body(body, exp.unit)
        if unit is None:
            if self.missing_unit == "control":
                return Route(exp.name, "control", run.control, version=exp.control)
            raise DataError(
                f"experiment {exp.name!r} routes {name} by unit, but this request names none",
                hint=f"send the X-Unit-Id header or the field {exp.unit!r} in the body",
                experiment=exp.name,
            )
        if exp.mode == "shadow":
            return Route(
                exp.name, "control", run.control, shadow=run.treatment, version=exp.control
            )
        variant = assign(str(unit), exp.name, exp.treatment_share())
        if variant == "treatment":
            return Route(exp.name, variant, run.treatment, version=exp.treatment)
        return Route(exp.name, variant, run.control, version=exp.control)

    def observe(self, name: str, route: Route, seconds: float, ok: bool) -> None:
        self.requests.labels(name, route.experiment, route.variant, "ok" if ok else "error").inc()
        self.latency.labels(name, route.experiment, route.variant).observe(seconds)
        run = self.running.get(name)
        if run is not None and route.variant == "treatment":
            run.observed.append((time.monotonic(), seconds * 1000.0, ok))

    def shadow(self, name: str, route: Route, rows: list[Any], log: Any, make_record: Any) -> None:
        """Score `rows` on the treatment after the response; log it as variant 'shadow'."""
        active = route.shadow
        if active is None:
            return

        async def score() -> None:
            started = time.perf_counter()
            loop = asyncio.get_running_loop()
            ok = True
            try:
                prepared = active.predictor.prepare(rows)
                raw = await loop.run_in_executor(
                    self.hub.executor, active.predictor.predict_raw, prepared
                )
                if log is not None:
                    log.append(
                        make_record(active.predictor, raw, time.perf_counter() - started, len(rows))
                    )
            except Exception as error:  # the shadow never hurts the request that fed it
                ok = False
                LOGGER.warning("shadow prediction failed", extra={"error": str(error)})
            shadow_route = Route(route.experiment, "shadow", active)
            self.observe(name, shadow_route, time.perf_counter() - started, ok)

        task = asyncio.get_running_loop().create_task(score())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- guardrails --------------------------------------------------------------------------
    async def evaluate(self, now: float | None = None) -> list[str]:
        """Check every experiment's guardrails on what the treatment did since the last check;
        roll back breaches."""
        rolled = []
        since, self._last_check = self._last_check, now or time.monotonic()
        for run in list(self.running.values()):
            breach = guardrail_breach(
                run.record.guardrails, run.observed, since=since, min_requests=self.min_requests
            )
            if breach is None or run.rolled_back:
                continue
            run.rolled_back = True  # stop routing to the treatment at once
            rolled.append(run.record.name)
            LOGGER.error(
                "guardrail breached: experiment rolled back",
                extra={"experiment": run.record.name, "breach": breach},
            )
            await asyncio.get_running_loop().run_in_executor(
                None, self._mark_rolled_back, run.record.name, breach
            )
        return rolled

    def _mark_rolled_back(self, experiment: str, reason: str) -> None:
        from lathe.registry import open_registry
        from lathe.registry.experiments_table import mark_rolled_back

        with open_registry(self.store) as registry:
            mark_rolled_back(registry.store, experiment, reason)

    def summary(self) -> list[dict[str, Any]]:
        """What the web page shows: one entry per running experiment."""
        return [
            {
                "model": m,
                "experiment": r.record.name,
                "mode": r.record.mode,
                "control": r.record.control,
                "treatment": r.record.treatment,
                "treatment_share": 0.0 if r.rolled_back else r.record.treatment_share(),
                "unit": r.record.unit,
                "rolled_back": r.rolled_back,
            }
            for m, r in self.running.items()
        ]


def guardrail_breach(
    guardrails: list[dict[str, Any]], observed: Any, *, since: float, min_requests: int = 20
) -> str | None:
    """The first breached guardrail as text, or None. Errors count against every guardrail's
    population; latencies use successful requests only.

    >>> obs = [(10.0, 5.0, True)] * 30 + [(10.0, 80.0, False)] * 10
    >>> guardrail_breach([{"name": "error_rate", "op": "<", "limit": 0.1}], obs, since=0)
    'error_rate = 0.25 (limit < 0.1)'
    """
    import numpy as np

    window = [(ms, ok) for at, ms, ok in observed if at >= since]
    if len(window) < min_requests:
        return None
    values: dict[str, float] = {"error_rate": sum(not ok for _, ok in window) / len(window)}
    latencies = np.array([ms for ms, ok in window if ok])
    if latencies.size:
        values["p99_ms"] = float(np.percentile(latencies, 99))
        values["p50_ms"] = float(np.percentile(latencies, 50))
    for guard in guardrails:
        value = values.get(guard["name"])
        if value is None:
            continue
        ok = value < guard["limit"] if guard["op"] == "<" else value > guard["limit"]
        if not ok:
            return f"{guard['name']} = {value:.4g} (limit {guard['op']} {guard['limit']:g})"
    return None


def _unit_from_body(body: Any, field_name: str) -> Any:
    if not isinstance(body, dict):
        return None
    if body.get(field_name) is not None:
        return body[field_name]
    rows = body.get("rows")
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        return rows[0].get(field_name)
    return None


async def _close(run: _Running) -> None:
    for active in (run.control, run.treatment):
        if active is not None and active.batcher is not None:
            await active.batcher.close()
