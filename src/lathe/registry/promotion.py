"""Promotion and rollback: moving aliases, with the champion's gate.

Every alias move and its audit row commit together. With `on=DATA` the gate scores
candidate and champion with an `Evaluate` callable (`lathe.evaluate` fits): the
registry never imports the API or any training code. With `require_validation` the
candidate must also pass a validation suite: run on `on=DATA` by a `Validate` callable
(`lathe.validate` fits), or else the last one recorded for that version
(`record_validation`, which `lathe validate NAME:VERSION DATA` calls); a refusal is
audited (`promote_refused`, naming the failed checks).

>>> RegistryPromotion.promote.__doc__.splitlines()[0]
'Point `alias` at NAME:VERSION. For the champion, the gate must pass unless forced.'
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lathe.errors import Conflict, GateFailed, NotFound, UsageError
from lathe.registry import gates
from lathe.registry._base import CHAMPION, RegistryBase
from lathe.registry.records import (
    AliasChange,
    AuditEvent,
    ModelVersion,
    check_name,
    current_actor,
    not_found_name,
    utc_now,
)
from lathe.registry.store import aliases, audit, versions

__all__ = ["RegistryPromotion", "Evaluate", "Validate", "validation_summary"]

Evaluate = Callable[[Path, Any], Mapping[str, Any]]
"""Scores an artifact directory on data: `evaluate(artifact_dir, data) -> metrics`."""
Validate = Callable[[Path, Any], Mapping[str, Any]]
"""Runs a validation suite: `validate(artifact_dir, data) -> {"passed", "failed", ...}`."""


def validation_summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a suite's result.

    >>> validation_summary({"suite": "default", "data": "d.csv", "passed": False,
    ...                     "failed": ["robustness.noise"], "checks": [{}, {}]})
    {'suite': 'default', 'data': 'd.csv', 'passed': False, 'failed': ['robustness.noise'], 'checks': 2}
    """
    return {"suite": result.get("suite"), "data": result.get("data"),
            "passed": bool(result.get("passed")), "failed": list(result.get("failed") or []),
            "checks": len(result.get("checks") or [])}


def _evaluate_artifact(path: Path, data: Any) -> Mapping[str, Any]:
    from lathe.model import Model

    return Model.load(path).evaluate(data)


def _source(data: Any) -> str | None:
    if data is None:
        return None
    return str(data) if not hasattr(data, "columns") else "DataFrame"


class RegistryPromotion(RegistryBase):
    """Alias moves: `promote` (gated for the champion) and `rollback`."""

    def materialize(self, ref: str | ModelVersion) -> Path:
        """A verified artifact directory for a version: `ModelRegistry` (registry.py) owns
        the blobs-to-directory rebuild; the gate's `on=DATA` path needs it from here."""
        raise NotImplementedError("ModelRegistry materializes; RegistryPromotion is its base")

    # ---- promote / rollback ------------------------------------------------------------
    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = CHAMPION,
        on: Any = None,
        force: bool = False,
        reason: str | None = None,
        metric: str | None = None,
        tolerance: float = gates.DEFAULT_TOLERANCE,
        evaluate: Evaluate | None = None,
        require_validation: bool = False,
        validate: Validate | None = None,
    ) -> AliasChange:
        """Point `alias` at NAME:VERSION. For the champion, the gate must pass unless forced.

        The gate compares the recorded test metrics of candidate and champion, or, with
        `on=DATA`, evaluates both on that data with `evaluate(artifact_dir, DATA)` (a
        callable returning a metrics mapping, such as `lathe.evaluate`; by default the
        artifact is loaded as a `lathe.model.Model` and evaluated). `force=True` needs a
        `reason` (audited). `require_validation` (any alias) also needs a passing
        validation suite, see the module docstring; `force` skips it too.
        """
        check_name(alias, "alias")
        version = int(version)
        if force and not (reason and reason.strip()):
            raise UsageError(
                "--force needs --reason", hint='say why, e.g. --force --reason "hotfix for #42"'
            )
        gated = alias == CHAMPION
        self.authorize("promote", name)  # promoters move aliases (lathe.registry.access)
        candidate = self.get(name, version)
        validation = None
        if require_validation and not force:
            validation = self._validation_gate(candidate, alias, on, validate)
        for _attempt in range(5):
            with self.store.read() as conn:
                expected = self._alias_version(conn, name, alias)
            fresh: dict[int, float] = {}
            if gated and on is not None and expected not in (None, version):
                fresh = self._evaluate_on(on, candidate, expected, metric, evaluate)
            with self.store.write() as conn:
                self.store.lock_model(conn, name)
                self._version_row(conn, name, version)  # still there?
                current = self._alias_version(conn, name, alias)
                if current != expected and on is not None:
                    continue  # the champion moved while we evaluated: gate again
                if current == version:
                    return AliasChange(name, alias, version, current, changed=False)
                decision = None
                if gated and current is not None:
                    decision = self._decide(
                        conn, candidate, current, fresh, metric, tolerance, force
                    )
                    if decision is not None and not force:
                        gates.enforce(decision, candidate.ref, f"{name}:{current}")
                self._move_alias(conn, name, alias, version)
                gate = decision.to_dict() if decision is not None else None
                self._audit(
                    conn,
                    "promote",
                    name,
                    version=version,
                    alias=alias,
                    before={"version": current},
                    after={"version": version, "gate": gate, "forced": force, "on": _source(on),
                       **({"validation": validation} if validation is not None else {})},
                    reason=reason,
                )
                return AliasChange(name, alias, version, current, True, gate, force, reason)
        raise Conflict(
            f"{name}@{alias} kept changing while the gate evaluated; nothing was promoted",
            hint="try again",
        )

    def record_validation(self, record: ModelVersion, result: Mapping[str, Any]) -> None:
        """Audit a suite's result for a version (`validate`), for a later gate to read."""
        with self.store.write() as conn:
            self._version_row(conn, record.name, record.version)
            self._audit(conn, "validate", record.name, version=record.version,
                        after=validation_summary(result))

    def _last_validation(self, record: ModelVersion) -> dict[str, Any] | None:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(audit).where(audit.c.name == record.name,
                                       audit.c.version == record.version,
                                       audit.c.action == "validate")
                .order_by(audit.c.id.desc()).limit(1)).first()
        return None if row is None else AuditEvent.from_row(row._mapping).after

    def _validation_gate(self, candidate: ModelVersion, alias: str, on: Any,
                         validate: Validate | None) -> dict[str, Any]:
        """The candidate's suite result (fresh on `on`, else the last recorded); a failed
        or missing one is audited as `promote_refused` and raises GateFailed."""
        if on is not None:
            if validate is None:
                raise UsageError("--require-validation with --on needs a validation callable",
                                 hint="promote through `lathe registry promote` or pass "
                                      "validate=lathe.validate")
            result = validate(self.materialize(candidate), on)
            self.record_validation(candidate, result)
            summary = validation_summary(result)
        else:
            found = self._last_validation(candidate)
            if found is None:
                raise GateFailed(
                    f"{candidate.ref} has no recorded validation to require",
                    hint=f"run `lathe validate {candidate.ref} DATA` first, or gate on data "
                         "with --on DATA",
                    check=None)
            summary = found
        if not summary.get("passed"):
            with self.store.write() as conn:
                self._audit(conn, "promote_refused", candidate.name, version=candidate.version,
                            alias=alias, after={"validation": summary})
            failed = ", ".join(summary.get("failed") or []) or "?"
            raise GateFailed(
                f"promotion refused: {candidate.ref} failed validation ({summary.get('suite')} "
                f"suite on {summary.get('data')}): {failed}",
                hint="fix the model or the data and validate again, or "
                     '--force --reason "..." (audited)',
                failed=summary.get("failed"))
        return summary

    def _decide(
        self,
        conn: Connection,
        candidate: ModelVersion,
        champion_version: int,
        fresh: dict[int, float],
        metric: str | None,
        tolerance: float,
        force: bool,
    ) -> gates.GateDecision | None:
        champion = ModelVersion.from_row(
            self._version_row(conn, candidate.name, champion_version)._mapping
        )
        name = gates.gate_metric(candidate.task, metric)
        ours: float | None
        theirs: float | None
        if fresh:
            ours, theirs = fresh[candidate.version], fresh[champion_version]
        else:
            ours, theirs = candidate.test_metric(name), champion.test_metric(name)
        if ours is None or theirs is None:
            if force:
                return None
            missing = candidate.ref if ours is None else champion.ref
            raise GateFailed(
                f"promotion gate cannot compare {name}: {missing} has no recorded test {name}",
                hint="gate on data with --on DATA, choose --metric, or --force --reason",
                metric=name,
            )
        return gates.compare_metric(name, candidate=ours, champion=theirs, tolerance=tolerance)

    def _evaluate_on(
        self, data: Any, candidate: ModelVersion, champion_version: int, metric: str | None,
        evaluate: Evaluate | None,
    ) -> dict[int, float]:
        name = gates.gate_metric(candidate.task, metric)
        score = evaluate or _evaluate_artifact
        out = {}
        for record in (candidate, self.get(candidate.name, champion_version)):
            metrics = score(self.materialize(record), data)
            if not isinstance(metrics.get(name), (int, float)):
                raise GateFailed(
                    f"promotion gate: evaluating {record.ref} on {_source(data)} gave no {name}",
                    hint="choose a metric the task reports with --metric",
                    metric=name,
                )
            out[record.version] = float(metrics[name])
        return out

    def _move_alias(self, conn: Connection, name: str, alias: str, version: int) -> None:
        values = {"version": version, "updated_at": utc_now(), "updated_by": current_actor()}
        moved = conn.execute(
            aliases.update()
            .where(aliases.c.name == name, aliases.c.alias == alias)
            .values(**values)
        ).rowcount
        if not moved:
            conn.execute(aliases.insert().values(name=name, alias=alias, **values))

    def rollback(
        self, name: str, *, alias: str = CHAMPION, reason: str | None = None
    ) -> AliasChange:
        """Move `alias` back to the version that held it before (skipping deleted ones)."""
        check_name(alias, "alias")
        self.authorize("rollback", name)
        with self.store.write() as conn:
            if self.store.lock_model(conn, name) is None:
                raise not_found_name(name, self._names(conn))
            current = self._alias_version(conn, name, alias)
            if current is None:
                raise NotFound(f"{name} has no alias {alias!r} to roll back", name=name)
            from lathe.registry.consistency import alias_stack

            stack = alias_stack(self._alias_events(conn, name, alias))
            existing = set(
                conn.execute(sa.select(versions.c.version).where(versions.c.name == name)).scalars()
            )
            if stack and stack[-1] == current:
                stack.pop()
            while stack and stack[-1] not in existing:
                stack.pop()
            if not stack:
                raise Conflict(
                    f"{name}@{alias} has no earlier version to roll back to "
                    f"(it is {name}:{current})",
                    hint=f"promote a version instead: lathe registry promote {name} VERSION",
                )
            target = stack[-1]
            self._move_alias(conn, name, alias, target)
            self._audit(
                conn,
                "rollback",
                name,
                version=target,
                alias=alias,
                before={"version": current},
                after={"version": target},
                reason=reason,
            )
        return AliasChange(name, alias, target, current, True, reason=reason)

    @staticmethod
    def _alias_events(conn: Connection, name: str, alias: str) -> builtins.list[AuditEvent]:
        rows = conn.execute(
            sa.select(audit)
            .where(
                audit.c.name == name,
                audit.c.alias == alias,
                audit.c.action.in_(("promote", "rollback")),
            )
            .order_by(audit.c.id)
        )
        return [AuditEvent.from_row(r._mapping) for r in rows]
