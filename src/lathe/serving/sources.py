"""Where a served model comes from, and how the server notices that it changed.

A `ModelSource` answers one question, cheaply enough to be polled every few seconds:
"which version is current, and where is its artifact directory?". The server compares the
version id with the one it serves and, when it differs, loads the new one next to the old and
switches over (see `lathe.serving.state`).

>>> import tempfile, pathlib, json
>>> d = pathlib.Path(tempfile.mkdtemp()) / "churn"; d.mkdir()
>>> _ = (d / "manifest.json").write_text(json.dumps({"family": "gbm"}))
>>> src = source_for(str(d))
>>> src.name, src.resolve()[1] == d, len(src.resolve()[0])
('churn', True, 12)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from lathe.errors import NotFound

__all__ = ["ModelSource", "PathSource", "RegistrySource", "source_for"]


@runtime_checkable
class ModelSource(Protocol):
    """Rules: `resolve` may block (it is called from a worker thread), must be safe to call
    repeatedly, and returns the same version id for as long as the content is the same."""

    name: str

    def resolve(self) -> tuple[str, Path]: ...

    def describe(self) -> str: ...


class PathSource:
    """An artifact directory; its version is a hash of its manifest (which hashes every file),
    so replacing the directory (atomically, as `Model.save` does) is a new version."""

    def __init__(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.resolve().name

    def resolve(self) -> tuple[str, Path]:
        manifest = self.path / "manifest.json"
        try:
            digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
        except FileNotFoundError:
            raise NotFound(
                f"{self.path}: no manifest.json, so this is not a lathe artifact directory",
                hint="pass a directory written by `lathe train --out DIR`",
                path=str(self.path),
            ) from None
        return digest, self.path

    def describe(self) -> str:
        return str(self.path)


class RegistrySource:
    """A registry reference (NAME, NAME@ALIAS, NAME:VERSION), re-resolved on every poll so
    that promote and rollback reach a running server."""

    def __init__(self, ref: str, store: str | None = None, blob_root: str | None = None) -> None:
        from lathe.registry import parse_ref

        self.ref = ref
        self.name = parse_ref(ref)[0]
        self.store, self.blob_root = store, blob_root
        self._cached: tuple[str, Path] | None = None

    def resolve(self) -> tuple[str, Path]:
        from lathe.registry import open_registry

        with open_registry(self.store, self.blob_root) as registry:
            record = registry.resolve(self.ref)
            if self._cached and self._cached[0] == record.ref:
                return self._cached  # materialize re-hashes every file: only on change
            self._cached = (record.ref, registry.materialize(record))
        return self._cached

    def describe(self) -> str:
        return self.ref


def source_for(ref: str, store: str | None = None) -> ModelSource:
    """An existing directory is served by path; anything else is a registry reference."""
    if Path(ref).is_dir():
        return PathSource(ref)
    from lathe.registry.refs import looks_like_path

    if looks_like_path(ref):
        raise NotFound(
            f"{ref}: no such model directory",
            hint="check the path, or pass a registry reference NAME, NAME@ALIAS or NAME:VERSION",
            path=ref,
        )
    return RegistrySource(ref, store)
