"""The prediction log's tables, and the migration that brings an older log file up to date.

Schema version 2 (this one):

* ``predictions`` — ONE ROW PER ANSWERED (200) REQUEST. ``request_id`` is the log's key and is
  always made by the server (unique per request, even when clients repeat an
  ``X-Request-ID``); the client's own id is kept beside it in ``client_id``. ``inputs`` is the
  request as JSON (``{"rows": [...]}``), ``outputs`` the list of predictions answered, one per
  row; ``n_rows`` counts them and ``row_ids`` (JSON list or NULL) holds the rows' own ids
  when the client sent them. ``experiment`` and ``variant`` name the A/B test arm that
  answered (NULL outside experiments).
* ``shadow_predictions`` — the same columns, for what a shadow candidate scored off the
  request path (``variant = 'shadow'``, request id = the answered request's + ``:shadow``).
  They live apart so that ``predictions`` keeps exactly one row per 200 response; a log
  file without this table gains it when opened.
* ``outcomes`` — the true outcome of one row of one request (``row_index`` 0-based; -1 is an
  outcome for a whole request, kept only from version-1 files). The first outcome and the
  latest are both kept, with their times, and ``updates`` counts how often it was sent.
* ``lathe_log_info`` — ``schema_version``.

Version 1 (wave 1) had no client, experiment or row columns and kept one outcome per request
in ``predictions.outcome``; `ensure_schema` adds the columns (nullable) and copies those
outcomes into ``outcomes`` with ``row_index = -1``.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["SCHEMA_VERSION", "build_tables", "ensure_schema"]

SCHEMA_VERSION = 2

# columns version 2 added to `predictions`: name -> SQL type (all nullable)
_ADDED = {
    "client_id": "VARCHAR(64)",
    "experiment": "VARCHAR(200)",
    "variant": "VARCHAR(200)",
    "n_rows": "INTEGER",
    "row_ids": "TEXT",
}


def _prediction_table(name: str, meta: Any) -> Any:
    import sqlalchemy as sa

    return sa.Table(
        name,
        meta,
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=True, index=True),
        sa.Column("time", sa.Float, nullable=False, index=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("experiment", sa.String(200), nullable=True, index=True),
        sa.Column("variant", sa.String(200), nullable=True),
        sa.Column("n_rows", sa.Integer, nullable=True),
        sa.Column("row_ids", sa.Text, nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )


def build_tables(meta: Any) -> tuple[Any, Any, Any, Any]:
    """(predictions, shadow_predictions, outcomes, lathe_log_info) on `meta`."""
    import sqlalchemy as sa

    predictions = _prediction_table("predictions", meta)
    shadow = _prediction_table("shadow_predictions", meta)
    outcomes = sa.Table(
        "outcomes",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("row_index", sa.Integer, nullable=False),
        sa.Column("row_id", sa.String(200), nullable=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("outcome_time", sa.Float, nullable=False),
        sa.Column("first_outcome", sa.Text, nullable=False),
        sa.Column("first_time", sa.Float, nullable=False),
        sa.Column("updates", sa.Integer, nullable=False),
        sa.UniqueConstraint("request_id", "row_index", name="uq_outcomes_request_row"),
    )
    info = sa.Table(
        "lathe_log_info",
        meta,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    return predictions, shadow, outcomes, info


def ensure_schema(engine: Any, meta: Any, attempts: int = 5) -> None:
    """Create the tables, or migrate a version-1 log in place. Safe when several server
    workers start at once on one file: a worker that loses a race re-reads and retries."""
    import sqlalchemy as sa

    for attempt in range(attempts):
        try:
            _migrate(engine, meta)
            return
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def _migrate(engine: Any, meta: Any) -> None:
    import sqlalchemy as sa

    existing = sa.inspect(engine)
    had_predictions = existing.has_table("predictions")
    columns = {c["name"] for c in existing.get_columns("predictions")} if had_predictions else set()
    meta.create_all(engine)  # creates only what is missing
    if not had_predictions:
        _set_version(engine, meta)
        return
    with engine.begin() as conn:
        for name, sql_type in _ADDED.items():
            if name not in columns:
                conn.execute(sa.text(f"ALTER TABLE predictions ADD COLUMN {name} {sql_type}"))
        if "client_id" not in columns:
            conn.execute(
                sa.text(
                    "CREATE INDEX IF NOT EXISTS ix_predictions_client_id ON predictions (client_id)"
                )
            )
        version = conn.execute(
            sa.text("SELECT value FROM lathe_log_info WHERE key = 'schema_version'")
        ).scalar()
        if version is None and "outcome" in columns:
            conn.execute(
                sa.text(
                    "INSERT INTO outcomes (request_id, row_index, row_id, outcome, outcome_time,"
                    " first_outcome, first_time, updates)"
                    " SELECT request_id, -1, NULL, outcome, outcome_time, outcome, outcome_time, 1"
                    " FROM predictions WHERE outcome IS NOT NULL"
                )
            )
    _set_version(engine, meta)


def _set_version(engine: Any, meta: Any) -> None:
    import sqlalchemy as sa

    info = meta.tables["lathe_log_info"]
    with engine.begin() as conn:
        found = conn.execute(sa.select(info.c.value).where(info.c.key == "schema_version")).first()
        if found is None:
            conn.execute(info.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
