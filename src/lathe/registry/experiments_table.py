"""The registry database's experiments table (migration 3 creates it).

One row per experiment: its two model references (pinned to versions when it started), the
planned split, the unit column, the primary metric and guardrails (JSON), the mode (split,
shadow or canary with its ramp) and its status. `lathe.experiments.records` reads and writes
it for start and stop (which go through the promotion gate); the rows, the canary schedule
and the two writes a server needs (reading, and the automatic rollback with its audit row)
live here, so the server reads them without importing the experiments package beside it.

>>> experiments.name
'lathe_experiments'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lathe.errors import Conflict
from lathe.registry.store import audit, metadata

__all__ = ["experiments", "create_experiments_table", "Experiment", "canary_share",
           "read_experiments", "finish", "mark_rolled_back"]

experiments = sa.Table(
    "lathe_experiments",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("control", sa.String(300), nullable=False),  # NAME:VERSION, pinned at start
    sa.Column("treatment", sa.String(300), nullable=False),
    sa.Column("control_ref", sa.String(300), nullable=False),  # as given (e.g. churn@champion)
    sa.Column("treatment_ref", sa.String(300), nullable=False),
    sa.Column("split", sa.Text, nullable=False),  # JSON [control %, treatment %]
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(200)),
    sa.Column("guardrails", sa.Text, nullable=False),  # JSON list of {name, op, limit}
    sa.Column("mode", sa.String(20), nullable=False),  # split | shadow | canary
    sa.Column("canary", sa.Text),  # JSON {"steps": [1, 5, 25, 50], "step_minutes": M}
    sa.Column("status", sa.String(20), nullable=False),  # running | promoted | rolled back
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("stopped_at", sa.String(40)),
    sa.Column("result", sa.Text),  # JSON: why it stopped and what the data said
    sa.Index("lathe_experiments_model_idx", "model", "status"),
)


def create_experiments_table(conn: sa.engine.Connection, store: object) -> None:
    experiments.create(conn, checkfirst=True)


@dataclass
class Experiment:
    name: str
    model: str
    control: str
    treatment: str
    control_ref: str
    treatment_ref: str
    split: list[float]
    unit: str
    metric: str | None
    guardrails: list[dict[str, Any]]
    mode: str
    canary: dict[str, Any] | None
    status: str
    started_at: str
    started_by: str
    stopped_at: str | None = None
    result: dict[str, Any] | None = field(default=None)

    @classmethod
    def from_row(cls, row: Any) -> Experiment:
        m = dict(row)
        for key in ("split", "guardrails", "canary", "result"):
            m[key] = json.loads(m[key]) if m.get(key) else (None if key != "guardrails" else [])
        return cls(**m)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def treatment_share(self, now: datetime | None = None) -> float:
        """The treatment's share in percent now (a canary ramps on its schedule)."""
        if self.mode == "shadow":
            return 0.0
        if self.mode == "canary" and self.canary:
            started = datetime.fromisoformat(self.started_at)
            elapsed = ((now or datetime.now(UTC)) - started).total_seconds()
            return canary_share(self.canary, elapsed)
        return float(self.split[1])


def canary_share(canary: dict[str, Any], elapsed_s: float) -> float:
    steps = canary["steps"]
    index = int(max(0.0, elapsed_s) // (canary["step_minutes"] * 60))
    return float(steps[min(index, len(steps) - 1)])


def read_experiments(store: Any) -> list[Experiment]:
    """Every experiment, oldest first."""
    with store.read() as conn:
        rows = conn.execute(sa.select(experiments).order_by(experiments.c.started_at))
        return [Experiment.from_row(r._mapping) for r in rows]


def finish(store: Any, exp: Experiment, status: str, result: dict[str, Any]) -> None:
    """Mark a running experiment stopped and write its outcome to the audit, in one
    transaction; Conflict if it stopped meanwhile."""
    from lathe.registry.records import current_actor, utc_now

    now = utc_now()
    with store.write() as conn:
        changed = conn.execute(experiments.update().where(
            experiments.c.name == exp.name, experiments.c.status == "running").values(
                status=status, stopped_at=now, result=json.dumps(result))).rowcount
        if changed != 1:
            raise Conflict(f"experiment {exp.name!r} is no longer running",
                           hint="see lathe experiment list")
        conn.execute(audit.insert().values(
            at=now, actor=current_actor(), action="experiment", name=exp.model,
            version=int(exp.treatment.rsplit(":", 1)[1]), alias=None,
            before=json.dumps({"experiment": exp.name, "status": "running"}),
            after=json.dumps({"experiment": exp.name, "status": status, **result}),
            reason=result.get("reason")))


def mark_rolled_back(store: Any, name: str, reason: str) -> bool:
    """The server's automatic rollback (a guardrail breached); False if already stopped."""
    found = [e for e in read_experiments(store) if e.name == name]
    if not found or found[0].status != "running":
        return False
    exp = found[0]
    try:
        finish(store, exp, "rolled back", {"reason": reason, "automatic": True,
                                           "control": exp.control, "treatment": exp.treatment})
    except Conflict:
        return False
    return True
