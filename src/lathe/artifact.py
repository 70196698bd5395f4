"""The model artifact: a self-describing directory that is all a prediction needs.

    models/churn/
      manifest.json        format and lathe version, family, task, schema, classes, config,
                           metrics, lineage, and the sha256 of every other file
      model/...            the family's native files and fitted preprocessing
      model.onnx           where the family exports to ONNX

Writes are atomic: files go to a temporary sibling directory which replaces the target in
one rename, so a crash never leaves a half-written artifact. `verify` re-hashes every file.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "m"
>>> _ = write_artifact(target, {"family": "demo"}, lambda d: (d / "w.txt").write_text("1"))
>>> verify(target)["family"]
'demo'
>>> _ = (target / "w.txt").write_text("2")
>>> verify(target)
Traceback (most recent call last):
lathe.errors.IntegrityError: ...
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lathe.errors import Conflict, IntegrityError, NotFound, UsageError
from lathe.manifest import FORMAT_VERSION, Manifest, git_commit

__all__ = [
    "check_out",
    "checkpoints_dir",
    "default_out",
    "FORMAT_VERSION",
    "MANIFEST",
    "write_artifact",
    "read_manifest",
    "verify",
    "hash_file",
    "artifact_sha256",
    "git_commit",
]

MANIFEST = "manifest.json"


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_tree(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            rel = path.relative_to(root).as_posix()
            out[rel] = {"sha256": hash_file(path), "bytes": path.stat().st_size}
    return out


def default_out(source: Any, *, name: str | None = None, suffix: str = "") -> Path:
    """Where the CLI writes an artifact without `--out`: `models/<name or data's stem><suffix>`,
    or beside an artifact directory for one made from it (compress).

    >>> default_out("data/churn.csv", suffix="-tuned"), default_out("churn@champion")
    (PosixPath('models/churn-tuned'), PosixPath('models/churn-champion'))
    """
    if name:
        return Path("models") / f"{name}{suffix}"
    if not isinstance(source, (str, os.PathLike)):  # a DataFrame, or rows
        return Path("models") / f"model{suffix}"
    path = Path(source)
    if path.is_dir():
        return path.parent / f"{path.name}{suffix}"
    stem = re.sub(r"[^\w.-]+", "-", path.stem)  # NAME@alias, NAME:VERSION -> a folder name
    return Path("models") / f"{stem}{suffix}"


def checkpoints_dir(out: Path) -> Path:
    """Torch checkpoints of a run writing `out` (what `resume=True` continues from)."""
    return out.with_name(out.name + ".checkpoints")


def check_out(target: str | Path, *, force: bool = False) -> None:
    """Refuse to write an artifact into `target` when something is already there.

    An existing artifact is replaced only with `force`; a file, or a non-empty directory that
    is not an artifact, never is. An empty or missing directory is fine.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory", hint="choose another out=")
    if target.exists() and any(target.iterdir()):
        if not (target / MANIFEST).exists():
            raise UsageError(
                f"{target} is a non-empty directory that is not a lathe artifact",
                hint="choose another out=; lathe will not overwrite unrelated files",
            )
        if not force:
            raise Conflict(
                f"{target} already holds an artifact",
                hint="pass force=True to replace it, or choose another out=",
                path=str(target),
            )


def write_artifact(
    target: str | Path,
    manifest: dict[str, Any],
    write_files: Callable[[Path], Any],
    *,
    overwrite: bool = True,
) -> dict[str, Any]:
    """Build the artifact in a temporary directory, hash it, then move it into place."""
    target = Path(target)
    check_out(target, force=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write_files(staging)
        full = {
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **manifest,
        }
        full["files"] = _hash_tree(staging)
        (staging / MANIFEST).write_text(json.dumps(full, indent=2, default=str), encoding="utf-8")
        os.chmod(staging, 0o755)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return full


def read_manifest(path: str | Path) -> dict[str, Any]:
    root = Path(path)
    file = root / MANIFEST
    if not root.exists():
        raise NotFound(f"{root}: no such model directory", hint="check the path", path=str(root))
    if not file.exists():
        raise IntegrityError(
            f"{root} is not a lathe artifact (no {MANIFEST})",
            hint="pass a directory written by `lathe train`",
            path=str(root),
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{file} is corrupt ({exc})", path=str(file)) from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IntegrityError(
            f"{root}: artifact format {version!r} is not supported (this lathe reads {FORMAT_VERSION})",
            hint="retrain the model with this version of lathe",
        )
    Manifest.check(manifest)  # a field of the wrong type is refused here, by name
    return manifest


def verify(path: str | Path) -> dict[str, Any]:
    """Re-hash every file against the manifest; raise IntegrityError on any difference."""
    root = Path(path)
    manifest = read_manifest(root)
    expected: dict[str, dict[str, Any]] = manifest.get("files", {})
    actual = _hash_tree(root)
    for rel, meta in expected.items():
        if rel not in actual:
            raise IntegrityError(
                f"{root}: file {rel} is missing", hint="restore the artifact", path=str(root / rel)
            )
        if actual[rel]["bytes"] != meta["bytes"]:
            raise IntegrityError(
                f"{root}: file {rel} is truncated or changed ({actual[rel]['bytes']} bytes, "
                f"manifest says {meta['bytes']})",
                hint="restore the artifact from its source; do not edit artifacts by hand",
                path=str(root / rel),
            )
        if actual[rel]["sha256"] != meta["sha256"]:
            raise IntegrityError(
                f"{root}: file {rel} was modified (sha256 differs from the manifest)",
                hint="restore the artifact from its source; do not edit artifacts by hand",
                path=str(root / rel),
            )
    unexpected = sorted(set(actual) - set(expected))
    if unexpected:
        raise IntegrityError(
            f"{root}: unexpected file(s) {unexpected[:5]} not in the manifest",
            hint="remove them or restore the artifact",
            path=str(root),
        )
    return manifest


def artifact_sha256(path: str | Path) -> str:
    """One digest for the whole artifact (the manifest's file table), used by the registry."""
    manifest = read_manifest(path)
    table = json.dumps(manifest.get("files", {}), sort_keys=True).encode()
    return hashlib.sha256(table).hexdigest()
