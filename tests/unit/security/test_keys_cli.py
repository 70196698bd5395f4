"""`lathe keys new|sign|verify` and `lathe train --sign` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from lathe.cli import main


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_keys_new_writes_key_and_pub_and_never_overwrites(tmp_path, capsys):
    assert main(["keys", "new", "--out", str(tmp_path / "ci.key"), "--json"]) == 0
    info = _json(capsys)
    assert Path(info["public_key"]) == tmp_path / "ci.key.pub"
    assert (tmp_path / "ci.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "ci.key.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert (tmp_path / "ci.key").stat().st_mode & 0o077 == 0
    before = (tmp_path / "ci.key").read_bytes()
    assert main(["keys", "new", "--out", str(tmp_path / "ci.key")]) == 75
    assert "never overwrites" in capsys.readouterr().err
    assert (tmp_path / "ci.key").read_bytes() == before


def test_keys_new_encryption_writes_a_256_bit_key(tmp_path, capsys):
    from lathe.security.keys import load_kek_file

    assert main(["keys", "new", "--encryption", "--out", str(tmp_path / "enc.key"),
                 "--json"]) == 0
    assert _json(capsys)["kind"] == "aes-256-kek"
    assert len(load_kek_file(tmp_path / "enc.key")) == 32
    assert not (tmp_path / "enc.key.pub").exists()


def test_train_sign_then_trusted_predict_and_verify(tmp_path, capsys, monkeypatch, rows):
    monkeypatch.chdir(tmp_path)
    rows.to_csv("d.csv", index=False)
    rows.head(5).drop(columns=["income"]).to_csv("new.csv", index=False)
    assert main(["keys", "new", "--out", "ci.key"]) == 0
    assert main(["keys", "new", "--out", "evil.key"]) == 0
    capsys.readouterr()
    assert main(["train", "d.csv", "--target", "income", "--model", "linear", "--out", "m",
                 "--sign", "ci.key", "--json"]) == 0
    assert _json(capsys)["signature"]["signer"] == "ci"
    monkeypatch.setenv("LATHE_TRUSTED_KEYS", "ci.key.pub")
    assert main(["predict", "m", "new.csv"]) == 0
    assert len(pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))) == 5
    assert main(["keys", "verify", "m", "--json"]) == 0
    assert _json(capsys)["signed"] is True
    # a copy re-signed by someone else: exit 77 and one line naming artifact and signer
    shutil.copytree("m", "m2")
    assert main(["keys", "sign", "m2", "--key", "evil.key"]) == 0
    capsys.readouterr()
    assert main(["predict", "m2", "new.csv"]) == 77
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "m2 is signed by evil" in err and "ci.key.pub" in err
    monkeypatch.setenv("LATHE_TRUSTED_KEYS", "ci.key.pub:evil.key.pub")
    assert main(["predict", "m2", "new.csv"]) == 0


def test_train_with_a_bad_signing_key_fails_before_training(tmp_path, capsys, monkeypatch, rows):
    monkeypatch.chdir(tmp_path)
    rows.to_csv("d.csv", index=False)
    assert main(["train", "d.csv", "--target", "income", "--out", "m", "--sign", "nope.key"]) == 66
    assert "signing key nope.key does not exist" in capsys.readouterr().err
    assert not Path("m").exists()
    monkeypatch.setenv("LATHE_SIGNING_KEY", "nope2.key")
    assert main(["train", "d.csv", "--target", "income", "--out", "m"]) == 66
    assert "from LATHE_SIGNING_KEY" in capsys.readouterr().err


def test_keys_rotate_then_the_new_key_reads_the_registry(tmp_path, capsys, monkeypatch,
                                                         signed_model):
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "new", "--encryption", "--out", "old.key"]) == 0
    assert main(["keys", "new", "--encryption", "--out", "new.key"]) == 0
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", "old.key")
    assert main(["registry", "register", str(signed_model), "--name", "churn"]) == 0
    capsys.readouterr()
    assert main(["keys", "rotate", "new.key", "--json"]) == 0
    assert _json(capsys)["rewrapped"] == 1
    assert main(["keys", "verify", "churn:1"]) == 77  # the old key opens nothing now
    assert "not the key this data was encrypted under" in capsys.readouterr().err
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", "new.key")
    assert main(["keys", "verify", "churn:1", "--json"]) == 0
