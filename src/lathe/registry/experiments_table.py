"""The registry database's experiments table (migration 3 creates it).

One row per experiment: its two model references (pinned to versions when it started), the
planned split, the unit column, the primary metric and guardrails (JSON), the mode (split,
shadow or canary with its ramp) and its status. `lathe.experiments.records` reads and writes
it; the registry only owns the schema, so a registry backup of the core tables is unchanged.

>>> experiments.name
'lathe_experiments'
"""

from __future__ import annotations

import sqlalchemy as sa

from lathe.registry.store import metadata

__all__ = ["experiments", "create_experiments_table"]

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
