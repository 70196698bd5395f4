"""The prediction log's inputs and outputs encrypted at rest, read back only with the key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lathe.errors import IntegrityError, Unauthorized
from lathe.predlog import PredictionLog, PredictionRecord, open_log, read_all
from lathe.security.keys import new_encryption_key


@pytest.fixture()
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", new_encryption_key(tmp_path / "k")["path"])
    log = PredictionLog(f"sqlite:///{tmp_path}/p.db")
    for i in range(3):
        log.append(PredictionRecord(f"r{i}", "churn", "1", {"rows": [{"email": f"u{i}@x.org"}]},
                                    [{"label": "yes"}], 1.0, n_rows=1))
    log.close()
    return f"sqlite:///{tmp_path}/p.db"


def _raw(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"))


def test_inputs_and_outputs_are_sealed_on_disk_and_read_back(url):
    with _raw(url) as db:
        rows = db.execute("select inputs, outputs from predictions").fetchall()
    assert all(a.startswith("lenc1:") and b.startswith("lenc1:") for a, b in rows)
    assert b"@x.org" not in Path(url.removeprefix("sqlite:///")).read_bytes()
    frame = read_all(url, model="churn")
    assert sorted(r["email"] for r in frame["inputs"]) == ["u0@x.org", "u1@x.org", "u2@x.org"]
    store = open_log(url)
    assert store.read("r1")["outputs"] == [{"label": "yes"}]
    assert store.attach_outcome("r1", "no", row=0)["rows"] == 1
    store.close()


def test_without_or_with_another_key_the_log_is_refused(url, tmp_path, monkeypatch):
    monkeypatch.delenv("LATHE_ENCRYPTION_KEY_FILE")
    with pytest.raises(Unauthorized, match="is encrypted, and no encryption key is set"):
        read_all(url)
    with pytest.raises(Unauthorized, match="prediction log .* is encrypted"):
        PredictionLog(url)  # the server would refuse to start, not write plaintext beside
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE",
                       new_encryption_key(tmp_path / "other")["path"])
    with pytest.raises(Unauthorized, match="not the key this data was encrypted under"):
        read_all(url)
    with pytest.raises(Unauthorized):
        PredictionLog(url)


def test_a_changed_or_moved_value_is_refused(url):
    with _raw(url) as db:
        value = db.execute("select inputs from predictions where request_id='r0'").fetchone()[0]
        flipped = value[:-10] + ("A" if value[-10] != "A" else "B") + value[-9:]
        db.execute("update predictions set inputs=? where request_id='r0'", (flipped,))
    with pytest.raises(IntegrityError, match="inputs of request r0: encrypted value was altered"):
        read_all(url)
    with _raw(url) as db:
        db.execute("update predictions set inputs=? where request_id='r0'", (value,))
        other = db.execute("select inputs from predictions where request_id='r1'").fetchone()[0]
        db.execute("update predictions set inputs=? where request_id='r0'", (other,))
    with pytest.raises(IntegrityError, match="request r0"):
        read_all(url)  # r1's sealed inputs moved onto r0: bound to their request id


def test_a_plain_log_stays_plain_without_a_key(tmp_path):
    url = f"sqlite:///{tmp_path}/plain.db"
    log = PredictionLog(url)
    log.append(PredictionRecord("r", "m", "1", {"rows": [{"a": 1}]}, [{"label": 0}], 1.0))
    log.close()
    with _raw(url) as db:
        assert db.execute("select inputs from predictions").fetchone()[0].startswith("{")
    assert read_all(url)["inputs"].tolist() == [{"a": 1}]


def test_rotating_the_logs_key_rewraps_it(url, tmp_path, monkeypatch, capsys):
    from lathe.cli import main

    new = new_encryption_key(tmp_path / "new")["path"]
    assert main(["keys", "rotate", new, "--prediction-log", url, "--json"]) == 0
    assert '"rewrapped": 1' in capsys.readouterr().out
    with pytest.raises(Unauthorized):
        read_all(url)  # the old key opens nothing now
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", new)
    assert len(read_all(url)) == 3
