"""The prediction log's inputs and outputs encrypted at rest (AES-256-GCM, envelope).

With a key-encryption key in the environment (LATHE_ENCRYPTION_KEY_FILE & co., see
lathe.security.crypto) the server writes each record's ``inputs`` and ``outputs`` sealed
(``lenc1:<base64>``), each bound to its request id and column, so a value moved to another
row or column is refused. The data key lives wrapped in the log's own ``lathe_log_info``
table (``dek:<id>`` rows), so the log is self-contained: the same KEK reads it anywhere.
Rows written before encryption stay readable; a sealed value without the key is refused
with one line (exit 77), a changed one too (exit 65). Metadata (model, version, times,
latency, outcomes) stays in the clear: monitoring filters on it.

>>> import os, tempfile
>>> from lathe.security.keys import new_encryption_key
>>> d = tempfile.mkdtemp(); os.environ["LATHE_ENCRYPTION_KEY_FILE"] = new_encryption_key(
...     os.path.join(d, "k"))["path"]
>>> from lathe.predlog import PredictionLog, PredictionRecord, read_all
>>> url = f"sqlite:///{d}/p.db"
>>> log = PredictionLog(url)
>>> log.append(PredictionRecord("r1", "m", "1", {"rows": [{"ssn": "123-45"}]}, [{"label": 1}], 1.0))
True
>>> log.close()
>>> read_all(url)["inputs"].tolist()
[{'ssn': '123-45'}]
>>> import sqlite3; raw = sqlite3.connect(f"{d}/p.db").execute("select inputs from predictions")
>>> raw.fetchone()[0].startswith("lenc1:")
True
>>> del os.environ["LATHE_ENCRYPTION_KEY_FILE"]
"""

from __future__ import annotations

import json
from typing import Any

from lathe.errors import Unauthorized
from lathe.security.crypto import KeyRing, kek_from_env, open_sealed, seal

__all__ = ["LogSealer", "sealer_for", "SEALED_COLUMNS"]

SEALED_COLUMNS = ("inputs", "outputs")
_PREFIX = "lenc1:"


class TableKeyRing(KeyRing):
    """A key ring kept in the log's info table: one row per wrapped data key."""

    def __init__(self, store: Any, kek: bytes | None, source: str) -> None:
        super().__init__(f"{store.url} (table lathe_log_info)", kek, source)
        self.store = store

    def _read(self) -> dict[str, Any] | None:
        import sqlalchemy as sa

        info = self.store.info
        with self.store.engine.connect() as conn:
            rows = dict(conn.execute(sa.select(info.c.key, info.c.value).where(
                info.c.key.like("dek%"))).all())
        keys = {k.removeprefix("dek:"): v for k, v in rows.items() if k.startswith("dek:")}
        if not keys or "dek_current" not in rows:
            return None
        ring: dict[str, Any] = {"version": 1, "current": rows["dek_current"], "data_keys": {}}
        for dek_id, value in keys.items():
            kek_id, _, wrapped = value.partition(":")
            ring["data_keys"][dek_id] = {"kek_id": kek_id, "wrapped": wrapped}
        return ring

    def _rows(self, ring: dict[str, Any]) -> list[dict[str, str]]:
        out = [{"key": f"dek:{i}", "value": f"{e['kek_id']}:{e['wrapped']}"}
               for i, e in ring["data_keys"].items()]
        return [*out, {"key": "dek_current", "value": str(ring["current"])}]

    def _write_new(self, ring: dict[str, Any]) -> None:
        import sqlalchemy as sa

        try:  # the primary key makes the first writer win; a loser reads the winner's ring
            with self.store.engine.begin() as conn:
                conn.execute(self.store.info.insert(), self._rows(ring))
        except sa.exc.IntegrityError:
            pass

    def _replace(self, ring: dict[str, Any]) -> None:
        info = self.store.info
        with self.store.engine.begin() as conn:
            for row in self._rows(ring):
                conn.execute(info.update().where(info.c.key == row["key"]).values(
                    value=row["value"]))


class LogSealer:
    """Seals and opens the log's sensitive columns under one key ring."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    @property
    def writing(self) -> bool:
        return self.ring.kek is not None

    def check_writable(self) -> None:
        """Refuse now (not record by record in the writer thread) a log this process could
        not encrypt into: it holds a data key, and no key or another key is set."""
        if self.ring.kek is None:
            raise Unauthorized(f"the prediction log {self.ring.path} is encrypted, and no "
                               "encryption key is set",
                               hint="set LATHE_ENCRYPTION_KEY_FILE to the key it was written "
                               "with, or pass another --prediction-log")
        self.ring.current()  # a wrong key: Unauthorized naming both key ids

    def seal_row(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for column in SEALED_COLUMNS:
            value = out.get(column)
            if isinstance(value, str):
                out[column] = seal(self.ring, value.encode(), _context(row, column))
        return out

    def open(self, value: Any, request_id: str, column: str) -> Any:
        if not isinstance(value, str) or not value.startswith(_PREFIX):
            return value
        context = f"{request_id}/{column}".encode()
        return open_sealed(self.ring, value, f"prediction log {column} of request {request_id}",
                           context).decode()


def _context(row: dict[str, Any], column: str) -> bytes:
    return f"{row['request_id']}/{column}".encode()


def sealer_for(store: Any) -> LogSealer | None:
    """The log's sealer: under the environment's key when one is set; without one, a
    sealer that can only refuse when the log holds a data key (else None: plaintext)."""
    found = kek_from_env()
    ring = TableKeyRing(store, None if found is None else found[0],
                        "no key" if found is None else found[1])
    if found is None and ring._read() is None:
        return None
    return LogSealer(ring)


def loads_opened(sealer: LogSealer | None, value: Any, request_id: str, column: str) -> Any:
    """json.loads of a column value, opened first when sealed."""
    if sealer is not None:
        value = sealer.open(value, request_id, column)
    return json.loads(value)
