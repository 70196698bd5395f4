"""Registry blobs encrypted at rest (AES-256-GCM, envelope): real files, real tampering."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from lathe.errors import ConfigError, IntegrityError, Unauthorized
from lathe.registry import load_model, open_registry
from lathe.security.crypto import MAGIC, KeyRing, kek_from_env
from lathe.security.keys import load_kek_file, new_encryption_key

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def enc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "enc.key"
    new_encryption_key(key)
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", str(key))
    return key


def _store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/reg/lathe.db"


def _snippets(artifact: Path) -> list[bytes]:
    """64-byte pieces of every model file: none may appear in plaintext in the registry."""
    out = []
    for path in artifact.rglob("*"):
        if path.is_file() and path.name != "manifest.json" and path.stat().st_size >= 64:
            data = path.read_bytes()
            out += [data[i:i + 64] for i in range(0, len(data) - 64, max(64, len(data) // 8))]
    return out


def test_registered_blobs_are_ciphertext_and_load_back(enc, tmp_path, signed_model):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        version = reg.register(signed_model, name="churn")
        blob_root = reg.blobs.root
    blobs = [p for p in (blob_root / "sha256").rglob("*") if p.is_file()]
    assert blobs and all(p.read_bytes()[:8] == MAGIC for p in blobs)
    everything = b"".join(p.read_bytes() for p in blob_root.rglob("*") if p.is_file())
    assert not any(piece in everything for piece in _snippets(signed_model))
    model = load_model(version.ref, store=store)
    assert model.manifest["signature"]["signer"] == "ci"
    assert not (blob_root / "checkouts").exists()  # no plaintext cache next to the blobs
    assert not str(model.path).startswith(str(tmp_path))


def test_nothing_decrypted_is_left_on_disk_after_the_process(enc, tmp_path, signed_model):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        reg.register(signed_model, name="churn")
    code = ("import sys; from lathe.registry import load_model; "
            "m = load_model('churn:1', store=sys.argv[1]); print(m.path)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code, store], capture_output=True, text=True,
                          env=env, check=True)
    checkout = Path(done.stdout.strip())
    assert checkout.name.startswith("1-") and not checkout.exists()
    assert not checkout.parents[1].exists()  # the process's private folder went with it


def test_missing_and_wrong_keys_are_clear_refusals(enc, tmp_path, signed_model, monkeypatch):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        reg.register(signed_model, name="churn")
    monkeypatch.delenv("LATHE_ENCRYPTION_KEY_FILE")
    with pytest.raises(Unauthorized, match=r"churn:1 file .* is encrypted, and no encryption "
                       "key is set") as caught:
        load_model("churn:1", store=store)
    assert caught.value.exit_code == 77
    other = tmp_path / "other.key"
    new_encryption_key(other)
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", str(other))
    with pytest.raises(Unauthorized, match="is not the key this data was encrypted under"):
        load_model("churn:1", store=store)


def test_200_byte_flips_in_encrypted_blobs_are_all_refused(enc, tmp_path, signed_model):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        reg.register(signed_model, name="churn")
        blobs = sorted(p for p in (reg.blobs.root / "sha256").rglob("*") if p.is_file())
    rng = random.Random(11)
    refused = loaded = 0
    for _ in range(200):
        victim = rng.choice(blobs)
        original = victim.read_bytes()
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(data))
        try:
            load_model("churn:1", store=store)
            loaded += 1
        except IntegrityError:
            refused += 1
        victim.write_bytes(original)
    assert (refused, loaded) == (200, 0)
    load_model("churn:1", store=store)  # restored: loads again


def test_truncated_and_appended_blobs_are_refused(enc, tmp_path, signed_model):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        reg.register(signed_model, name="churn")
        victim = max((p for p in (reg.blobs.root / "sha256").rglob("*") if p.is_file()),
                     key=lambda p: p.stat().st_size)
    original = victim.read_bytes()
    for damaged in (original[:-1], original[:40], original + b"\0" * 17, original[:33]):
        victim.write_bytes(damaged)
        with pytest.raises(IntegrityError):
            load_model("churn:1", store=store)
    victim.write_bytes(original)


def test_rotating_the_kek_rewraps_without_touching_blobs(enc, tmp_path, signed_model,
                                                         monkeypatch):
    store = _store(tmp_path)
    with open_registry(store) as reg:
        reg.register(signed_model, name="churn")
        root = reg.blobs.root
    before = {p: p.read_bytes() for p in (root / "sha256").rglob("*") if p.is_file()}
    new = tmp_path / "new.key"
    new_encryption_key(new)
    found = kek_from_env()
    assert found is not None
    ring = KeyRing(root / "keyring.json", found[0], found[1])
    assert ring.rewrap(load_kek_file(new))["rewrapped"] == 1
    assert {p: p.read_bytes() for p in before} == before
    with pytest.raises(Unauthorized):
        load_model("churn:1", store=store)  # the old key no longer opens the ring
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_FILE", str(new))
    assert load_model("churn:1", store=store).task == "binary"


def test_backup_keeps_blobs_encrypted_and_restores_with_the_key(enc, tmp_path, signed_model,
                                                                monkeypatch):
    with open_registry(_store(tmp_path)) as reg:
        reg.register(signed_model, name="churn")
        reg.backup(tmp_path / "b.tar.gz")
    import tarfile

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        blob = next(n for n in names if n.startswith("blobs/"))
        member = tar.extractfile(blob)
        assert member is not None and member.read(8) == MAGIC
    assert "keyring.json" in names and "registry.json" not in names  # rows sealed too
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        sealed = tar.extractfile("registry.json.sealed")
        assert sealed is not None and b"churn" not in sealed.read()
    other = f"sqlite:///{tmp_path}/other/lathe.db"
    with open_registry(other) as reg:
        reg.restore(tmp_path / "b.tar.gz")
    assert load_model("churn:1", store=other).manifest["name"] == "adult"
    monkeypatch.delenv("LATHE_ENCRYPTION_KEY_FILE")
    with open_registry(f"sqlite:///{tmp_path}/third/lathe.db") as reg, pytest.raises(
            Unauthorized, match="is encrypted, and no encryption key is set"):
        reg.restore(tmp_path / "b.tar.gz")


def test_key_from_env_and_command(tmp_path, monkeypatch):
    key = tmp_path / "k.key"
    new_encryption_key(key)
    raw = load_kek_file(key)
    monkeypatch.delenv("LATHE_ENCRYPTION_KEY_FILE", raising=False)
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_COMMAND", f"cat {key}")
    assert kek_from_env() == (raw, "LATHE_ENCRYPTION_KEY_COMMAND")
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY_COMMAND", "false")
    with pytest.raises(ConfigError, match="exited 1"):
        kek_from_env()
    monkeypatch.delenv("LATHE_ENCRYPTION_KEY_COMMAND")
    monkeypatch.setenv("LATHE_ENCRYPTION_KEY", "c2hvcnQ=")
    with pytest.raises(ConfigError, match="not a 256-bit key"):
        kek_from_env()
