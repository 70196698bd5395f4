"""The prediction log: every answered request, its inputs, outputs and true outcomes.

`lathe serve --prediction-log sqlite:///FILE` (any SQLAlchemy URL; `postgresql://…[?schema=NAME]`
uses psycopg 3)
writes ONE ROW PER 200 RESPONSE to the ``predictions`` table, off the request path. Monitoring
and experiments read it back with `read_predictions`. This package sits below serving,
monitoring and experiments and imports only lathe.errors and SQLAlchemy (pandas when reading).

Keys. ``request_id`` is the log's key and is always made by the server (returned in the
response body), so a client that repeats an ``X-Request-ID`` can never collide with another
request; the client's id is stored beside it as ``client_id``. Feedback may name either.

Writing (the server does this)::

    log = PredictionLog(url, max_queue=10_000, on_drop=counter.inc)
    log.append(PredictionRecord(request_id, model, version, inputs, outputs, latency_ms,
                                client_id=..., n_rows=..., experiment=..., variant=...))
    log.close()      # writes everything queued

A record that cannot be written (queue full, or refused by the database: one bad record is
retried alone and never sinks its batch) is counted through ``on_drop(n)`` and logged once
with its count.

Outcomes (``POST /v1/feedback`` calls this): `LogStore.attach_outcome` stores the true outcome
of one row (``row`` 0-based index, or ``row_id`` when the request's rows carried ids), or of
every row (``outcomes``, a list); the first outcome and the latest are kept, with times.
`check_outcome` validates an outcome against a model's task and classes.

Reading (monitoring, experiments)::

    for chunk in read_predictions("sqlite:///.lathe/predictions.db", model="churn",
                                  since="2026-12-01", until=None, chunksize=10_000):
        ...   # one DataFrame row per predicted row: ROW_COLUMNS

Per-row columns: request_id, client_id, row_index, row_id, time (UTC datetime), model, version,
experiment, variant, latency_ms, n_rows, inputs (dict of fields), output (dict as answered),
prediction (label or value), outcome (missing = NaN), outcome_time, first_outcome, first_outcome_time,
outcome_updates (0 = no outcome yet). ``per_row=False`` gives one row per request
(REQUEST_COLUMNS). `inputs_frame(chunk)` spreads the inputs into columns; `read_all` returns
one frame; `open_log(url)` gives the `LogStore` (``count()``, ``read(request_id)``).

>>> import os, tempfile
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "p.db")
>>> log = PredictionLog(url)
>>> log.append(PredictionRecord("r1", "adult", "v1", {"rows": [{"age": 40}, {"age": 50}]},
...                             [{"label": "no"}, {"label": "yes"}], 1.5, client_id="c-7", n_rows=2))
True
>>> log.attach_outcome("c-7", "yes", row=1)
{'request_ids': ['r1'], 'rows': 1, 'updated': 0}
>>> log.close()
>>> frame = read_all(url, model="adult")
>>> frame[["request_id", "client_id", "row_index", "prediction"]].values.tolist()
[['r1', 'c-7', 0, 'no'], ['r1', 'c-7', 1, 'yes']]
>>> frame["outcome"].isna().tolist(), frame["outcome"].iloc[1]
([True, False], 'yes')
>>> inputs_frame(frame)["age"].tolist()
[40, 50]
"""

from __future__ import annotations

from lathe.predlog._outcomes import MAX_OUTCOME_CHARS, check_outcome
from lathe.predlog._reader import (
    REQUEST_COLUMNS,
    ROW_COLUMNS,
    inputs_frame,
    read_all,
    read_predictions,
)
from lathe.predlog._schema import SCHEMA_VERSION
from lathe.predlog._store import LogStore, open_log
from lathe.predlog._writer import PredictionLog, PredictionRecord, RawJson

__all__ = [
    "PredictionLog",
    "PredictionRecord",
    "RawJson",
    "LogStore",
    "open_log",
    "read_predictions",
    "read_all",
    "inputs_frame",
    "check_outcome",
    "MAX_OUTCOME_CHARS",
    "ROW_COLUMNS",
    "REQUEST_COLUMNS",
    "SCHEMA_VERSION",
]
