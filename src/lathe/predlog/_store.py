"""`LogStore`: the prediction log's tables behind one SQLAlchemy engine (synchronous).

Writers insert batches (`insert`), feedback attaches outcomes (`attach_outcome`), readers use
`lathe.predlog.read_predictions`. Thread-safe: every call takes its own connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lathe.errors import Conflict, NotFound, UsageError

__all__ = ["LogStore", "open_log"]

Checker = Callable[[str, Any], Any]  # (model name, outcome) -> the outcome to store


def open_log(url: str, *, create: bool = True) -> LogStore:
    """Open (and create or migrate) the prediction log at a SQLAlchemy URL.

    ``create=False`` refuses a SQLite file that does not exist instead of making an empty one
    (what a reader wants: a typo in the path should not read as "no predictions").
    """
    if not create and url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise NotFound(
                f"no prediction log at {path}",
                hint="pass the URL the server was started with (--prediction-log)",
                path=str(path),
            )
    return LogStore(url)


def _server_engine(url: str) -> Any:
    """PostgreSQL (psycopg 3, the driver lathe installs) or any SQLAlchemy URL; a lathe-only
    ``?schema=NAME`` keeps the log's tables in their own schema (created when missing)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    schema = parsed.query.get("schema")
    if not schema or not parsed.drivername.startswith("postgresql"):
        return sa.create_engine(parsed)
    if not str(schema).replace("_", "").isalnum():
        raise UsageError(f"schema {schema!r} must be letters, digits and underscores")
    parsed = parsed.difference_update_query(["schema"])
    setup = sa.create_engine(parsed)
    try:
        with setup.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        setup.dispose()
    return sa.create_engine(parsed, connect_args={"options": f"-csearch_path={schema}"})


class LogStore:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from lathe.predlog._schema import build_tables, ensure_schema

        self.url = url
        sqlite = url.startswith("sqlite")
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if sqlite:
            # several workers may share one SQLite file: wait for its lock instead of failing
            self.engine = sa.create_engine(url, connect_args={"timeout": 30})
        else:
            self.engine = _server_engine(url)
        if sqlite:

            @sa.event.listens_for(self.engine, "connect")
            def _wal(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        self.meta = sa.MetaData()
        self.predictions, self.shadow, self.outcomes, self.info = build_tables(self.meta)
        ensure_schema(self.engine, self.meta)
        from lathe.predlog._sealing import sealer_for

        self.sealer = sealer_for(self)  # inputs/outputs encrypted at rest under a key

    def opened(self, value: Any, request_id: str, column: str) -> Any:
        """A column value as JSON, decrypted first when it was sealed (lathe.predlog._sealing)."""
        from lathe.predlog._sealing import loads_opened

        return loads_opened(self.sealer, value, request_id, column)

    # ---- writing predictions ---------------------------------------------------------------
    def insert(self, rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Exception]]:
        """Insert prediction rows; returns the rows that could not be written, with why.
        Rows of variant "shadow" go to ``shadow_predictions``.

        One transaction for the batch; if it fails, each row is tried on its own, so one bad
        record (a duplicate key, a value the database refuses) never sinks the others.
        """
        if not rows:
            return []
        if self.sealer is not None and self.sealer.writing:
            rows = [self.sealer.seal_row(r) for r in rows]
        shadow = [r for r in rows if r.get("variant") == "shadow"]
        answered = [r for r in rows if r.get("variant") != "shadow"] if shadow else rows
        try:
            with self.engine.begin() as conn:
                for table, part in ((self.predictions, answered), (self.shadow, shadow)):
                    if part:
                        conn.execute(table.insert(), part)
            return []
        except Exception:  # noqa: BLE001 - find the bad record(s): each row on its own below
            failed: list[tuple[dict[str, Any], Exception]] = []
        for row in rows:
            table = self.shadow if row.get("variant") == "shadow" else self.predictions
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert(), [row])
            except Exception as error:  # noqa: BLE001 - reported to the caller, per record
                failed.append((row, error))
        return failed

    # ---- outcomes --------------------------------------------------------------------------
    def find(self, ref: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """Predictions for an id: the log's own request id, else every request a client sent
        with that X-Request-ID (several when the client repeated it)."""
        import sqlalchemy as sa

        p = self.predictions
        cols = [p.c.request_id, p.c.client_id, p.c.model, p.c.n_rows, p.c.row_ids, p.c.outputs]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).where(p.c.request_id == ref)).all()
            if not rows:
                rows = conn.execute(
                    sa.select(*cols).where(p.c.client_id == ref).order_by(p.c.time).limit(limit)
                ).all()
        return [dict(r._mapping) for r in rows]

    def attach_outcome(
        self,
        ref: str,
        outcome: Any = None,
        *,
        outcomes: list[Any] | None = None,
        row: int | None = None,
        row_id: str | None = None,
        all_requests: bool = False,
        check: Checker | None = None,
        found: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Store the true outcome of a request (or of one of its rows) and say what was done.

        ``ref`` is the request id the server answered with, or a client's X-Request-ID. An id
        several requests shared is refused (Conflict) unless ``all_requests`` is true. A
        request of several rows needs ``row`` (0-based), ``row_id`` or ``outcomes`` (one per
        row). A second outcome for the same row replaces the latest and keeps the first.
        Returns ``{"request_ids": [...], "rows": N, "updated": M}``.
        """
        matches = found if found is not None else self.find(ref)
        if not matches:
            raise NotFound(
                f"no prediction with request id {ref!r}",
                hint="use the request_id returned by /predict (or the X-Request-ID you sent)",
                request_id=ref,
            )
        if len(matches) > 1 and not all_requests:
            raise Conflict(
                f"{len(matches)} requests were sent with the X-Request-ID {ref!r}; "
                "nothing was stored",
                hint="send the request_id the server answered with (unique per request), or "
                'add "all_requests": true to store this outcome on all of them',
                request_id=ref,
                requests=len(matches),
            )
        plan: list[tuple[str, int, str | None, Any]] = []
        for match in matches:
            plan.extend(self._targets(match, outcome, outcomes, row, row_id, check))
        now = time.time()
        updated = 0
        with self.engine.begin() as conn:
            for request_id, index, rid, value in plan:
                updated += self._upsert(conn, request_id, index, rid, value, now)
        return {
            "request_ids": [m["request_id"] for m in matches],
            "rows": len(plan),
            "updated": updated,
        }

    def _targets(
        self,
        match: dict[str, Any],
        outcome: Any,
        outcomes: list[Any] | None,
        row: int | None,
        row_id: str | None,
        check: Checker | None,
    ) -> list[tuple[str, int, str | None, Any]]:
        request_id = match["request_id"]
        n = match["n_rows"]
        if n is None:  # a version-1 record: count the answered predictions
            n = len(self.opened(match["outputs"], request_id, "outputs"))
        ids = json.loads(match["row_ids"]) if match["row_ids"] else None

        def checked(value: Any) -> str:
            value = check(match["model"], value) if check is not None else value
            return json.dumps(value)

        if outcomes is not None:
            if len(outcomes) != n:
                raise UsageError(
                    f"'outcomes' has {len(outcomes)} values; request {request_id} had {n} rows",
                    hint="send one outcome per row, in the order of the request's rows",
                )
            return [
                (request_id, i, ids[i] if ids else None, checked(v)) for i, v in enumerate(outcomes)
            ]
        if row_id is not None:
            if not ids or row_id not in ids:
                raise NotFound(
                    f"request {request_id} has no row with id {row_id!r}",
                    hint="use the row's index ('row', 0-based) or an id the request's rows "
                    "carried in their row-id field",
                    request_id=request_id,
                )
            row = ids.index(row_id)
        if row is None:
            if n != 1:
                raise UsageError(
                    f"request {request_id} had {n} rows; say which one this outcome is for",
                    hint="add 'row' (0-based index) or 'row_id', or send 'outcomes' with one "
                    "value per row",
                )
            row = 0
        if not 0 <= row < n:
            raise UsageError(
                f"row {row} does not exist in request {request_id} ({n} rows, 0-based)",
                hint=f"use a row between 0 and {n - 1}",
            )
        return [(request_id, row, ids[row] if ids else row_id, checked(outcome))]

    def _upsert(
        self, conn: Any, request_id: str, index: int, rid: str | None, value: str, now: float
    ) -> int:
        import sqlalchemy as sa

        o = self.outcomes
        where = (o.c.request_id == request_id) & (o.c.row_index == index)
        done = conn.execute(
            o.update().where(where).values(outcome=value, outcome_time=now, updates=o.c.updates + 1)
        ).rowcount
        if done:
            return 1
        try:
            with conn.begin_nested():
                conn.execute(
                    o.insert().values(
                        request_id=request_id,
                        row_index=index,
                        row_id=rid,
                        outcome=value,
                        outcome_time=now,
                        first_outcome=value,
                        first_time=now,
                        updates=1,
                    )
                )
            return 0
        except sa.exc.IntegrityError:  # another feedback call inserted it first
            conn.execute(
                o.update()
                .where(where)
                .values(outcome=value, outcome_time=now, updates=o.c.updates + 1)
            )
            return 1

    # ---- reading ---------------------------------------------------------------------------
    def read(self, request_id: str) -> dict[str, Any] | None:
        """One logged request by the log's key, with its outcomes (``outcome`` when it had one
        row; ``outcomes`` by row index always)."""
        import sqlalchemy as sa

        p, o = self.predictions, self.outcomes
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(p).where(p.c.request_id == request_id)).first()
            if row is None:
                return None
            found = conn.execute(sa.select(o).where(o.c.request_id == request_id)).all()
        out = dict(row._mapping)
        for key in ("inputs", "outputs", "row_ids"):
            if out[key] is not None:
                out[key] = self.opened(out[key], request_id, key)
        history = {
            r.row_index: {
                "outcome": json.loads(r.outcome),
                "outcome_time": r.outcome_time,
                "first_outcome": json.loads(r.first_outcome),
                "first_time": r.first_time,
                "updates": r.updates,
            }
            for r in found
        }
        out["outcomes"] = history
        single = history.get(0) or history.get(-1)
        out["outcome"] = single["outcome"] if single else None
        out["outcome_time"] = single["outcome_time"] if single else None
        return out

    def count(self, **filters: Any) -> int:
        import sqlalchemy as sa

        p = self.predictions
        query = sa.select(sa.func.count()).select_from(p)
        for key, value in filters.items():
            query = query.where(p.c[key] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def close(self) -> None:
        self.engine.dispose()
