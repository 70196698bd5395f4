"""Signed artifacts: trust policy on load, predict, register; tampering refused for real."""

from __future__ import annotations

import base64
import json
import random
import shutil
from pathlib import Path

import pytest

import lathe
from lathe.artifact import verify
from lathe.errors import ConfigError, Conflict, IntegrityError, Unauthorized
from lathe.registry import load_model, open_registry
from lathe.security.keys import new_signing_key
from lathe.security.signing import check_artifact, load_trusted, sign_artifact


def _copy(src: Path, tmp_path: Path, name: str = "m") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _trust(monkeypatch: pytest.MonkeyPatch, *pubs: Path) -> None:
    monkeypatch.setenv("LATHE_TRUSTED_KEYS", ":".join(str(p) for p in pubs))


def test_train_sign_writes_a_signature_a_trusted_key_verifies(signed_model, keydir, monkeypatch):
    sig = json.loads((signed_model / "manifest.json").read_text())["signature"]
    assert sig["algorithm"] == "ed25519" and sig["signer"] == "ci"
    _trust(monkeypatch, keydir / "ci.key.pub")
    model = lathe.load(signed_model)
    assert model.manifest["signature"]["key_id"] == sig["key_id"]


def test_policy_refuses_unsigned_naming_artifact_and_keys(plain_model, keydir, monkeypatch):
    _trust(monkeypatch, keydir / "ci.key.pub")
    with pytest.raises(Unauthorized) as caught:
        lathe.load(plain_model)
    text = str(caught.value)
    assert str(plain_model) in text and "not signed" in text and "ci.key.pub" in text
    assert caught.value.exit_code == 77
    monkeypatch.delenv("LATHE_TRUSTED_KEYS")
    assert lathe.load(plain_model).task == "binary"  # optional without a policy


def test_policy_refuses_a_key_outside_it_naming_the_signer(signed_model, keydir, monkeypatch,
                                                            rows):
    _trust(monkeypatch, keydir / "other.key.pub")
    with pytest.raises(Unauthorized, match=r"signed by ci \(key [0-9a-f]{16}\), which is not"):
        lathe.predict(signed_model, rows.head(3))
    _trust(monkeypatch, keydir / "other.key.pub", keydir / "ci.key.pub")  # either one will do
    assert len(lathe.predict(signed_model, rows.head(3))) == 3


def test_an_edited_signed_manifest_is_refused_with_or_without_policy(
        signed_model, keydir, tmp_path, monkeypatch):
    art = _copy(signed_model, tmp_path)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["metrics"]["test"]["roc_auc"] = 0.999  # a better-looking model
    (art / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        lathe.load(art)
    _trust(monkeypatch, keydir / "ci.key.pub")
    with pytest.raises(IntegrityError, match="signature by ci"):
        lathe.load(art)


def test_a_signature_swapped_in_from_another_artifact_is_refused(
        signed_model, plain_model, keydir, tmp_path, monkeypatch):
    art = _copy(plain_model, tmp_path)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["signature"] = json.loads((signed_model / "manifest.json").read_text())["signature"]
    (art / "manifest.json").write_text(json.dumps(manifest))
    _trust(monkeypatch, keydir / "ci.key.pub")
    with pytest.raises(IntegrityError, match="swapped"):
        lathe.load(art)


def test_resigning_with_an_untrusted_key_does_not_pass(signed_model, keydir, tmp_path,
                                                       monkeypatch):
    """An attacker who edits the model and re-signs with their own key is still refused."""
    art = _copy(signed_model, tmp_path)
    sign_artifact(art, keydir / "other.key", signer="ci")  # pretends to be ci
    _trust(monkeypatch, keydir / "ci.key.pub")
    with pytest.raises(Unauthorized, match="not one of the trusted keys"):
        lathe.load(art)


def test_200_random_byte_flips_in_a_signed_artifact_are_all_refused(
        signed_model, keydir, tmp_path, monkeypatch):
    _trust(monkeypatch, keydir / "ci.key.pub")
    files = sorted(p for p in signed_model.rglob("*") if p.is_file())
    rng = random.Random(7)
    refused = 0
    art = _copy(signed_model, tmp_path)
    for _ in range(200):
        victim = rng.choice(files).relative_to(signed_model)
        data = bytearray((signed_model / victim).read_bytes())
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        (art / victim).write_bytes(bytes(data))
        try:
            check_artifact(art, manifest=verify(art))
        except (IntegrityError, Unauthorized):
            refused += 1
        shutil.copy2(signed_model / victim, art / victim)  # restore for the next flip
    assert refused == 200


def test_registry_register_obeys_the_policy(signed_model, plain_model, keydir, tmp_path,
                                            monkeypatch):
    _trust(monkeypatch, keydir / "ci.key.pub")
    with open_registry(f"sqlite:///{tmp_path}/lathe.db") as reg:
        with pytest.raises(Unauthorized, match="registering as churn"):
            reg.register(plain_model, name="churn")
        assert reg.register(signed_model, name="churn").ref == "churn:1"
        assert reg.list() == [] or all(v.name == "churn" for v in reg.list())
    loaded = load_model("churn:1", store=f"sqlite:///{tmp_path}/lathe.db")
    assert loaded.manifest["signature"]["signer"] == "ci"  # the signature travels


def test_children_are_signed_by_their_maker_and_keep_the_parent_signature(
        signed_model, keydir, tmp_path, monkeypatch, rows):
    monkeypatch.setenv("LATHE_SIGNING_KEY", str(keydir / "other.key"))
    child = lathe.compress(signed_model, "prune", data=rows, out=tmp_path / "child")
    manifest = json.loads((tmp_path / "child" / "manifest.json").read_text())
    parent_sig = json.loads((signed_model / "manifest.json").read_text())["signature"]
    assert manifest["signature"]["signer"] == "other"
    assert manifest["lineage"]["parent"]["signature"]["value"] == parent_sig["value"]
    _trust(monkeypatch, keydir / "other.key.pub")
    assert lathe.load(tmp_path / "child").manifest["signature"]["signer"] == "other"
    assert child.model.manifest["signature"]["signer"] == "other"


def test_resaving_a_signed_model_drops_the_stale_signature(signed_model, tmp_path):
    model = lathe.load(signed_model)
    model.save(tmp_path / "copy")
    assert "signature" not in json.loads((tmp_path / "copy" / "manifest.json").read_text())


def test_bad_keys_fail_clearly(tmp_path, keydir, plain_model):
    with pytest.raises(ConfigError, match="pass the private key"):
        sign_artifact(plain_model, keydir / "ci.key.pub")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_trusted([keydir / "ci.key"])
    with pytest.raises(lathe.NotFound, match="does not exist"):
        load_trusted([tmp_path / "missing.pub"])
    with pytest.raises(Conflict, match="never overwrites"):
        new_signing_key(keydir / "ci.key")
    bogus = tmp_path / "bad.key"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b"x" * 40).decode()
                     + "\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="bad.key"):
        sign_artifact(plain_model, bogus)
    assert oct((keydir / "ci.key").stat().st_mode & 0o777) == "0o600"
