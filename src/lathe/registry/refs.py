"""Turn a MODEL argument into a verified local artifact directory.

MODEL is an artifact path (returned unchanged when it exists), `NAME` (its champion),
`NAME@ALIAS` or `NAME:VERSION`; registry references are materialised from the blob store
and re-verified.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> str(resolve_model_ref(d)) == d
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from lathe.errors import NotFound

if TYPE_CHECKING:
    from lathe.model import Model

__all__ = ["resolve_model_ref", "looks_like_path", "load_model"]


def looks_like_path(ref: str) -> bool:
    return os.sep in ref or "/" in ref or ref.startswith(".") or ref.startswith("~")


def resolve_model_ref(
    ref: str | os.PathLike[str], store: str | None = None, blob_root: str | None = None
) -> Path:
    """An existing path as is; otherwise a registry reference resolved in `store`."""
    path = Path(ref)
    if path.exists():
        return path
    text = os.fspath(ref)
    if looks_like_path(text):
        raise NotFound(
            f"{text}: no such model directory",
            hint="check the path, or pass a registry reference NAME, NAME@ALIAS or NAME:VERSION",
            path=text,
        )
    from lathe.registry.registry import open_registry
    from lathe.registry.store import parse_store_url

    url = parse_store_url(store)
    if url.dialect == "sqlite" and not url.sqlite_path.exists():
        # Do not create an empty registry as a side effect of a mistyped model path.
        raise NotFound(
            f"{text}: no such model directory, and no registry at {url.sqlite_path} to look "
            "it up in",
            hint="check the path, or pass --store / set LATHE_STORE to your registry URL",
            ref=text,
        )
    with open_registry(url.given, blob_root) as registry:
        return registry.materialize(registry.resolve(text))


def load_model(
    ref: str | os.PathLike[str], *, check: bool = True, store: str | None = None
) -> Model:
    """Load an artifact directory or a registry reference (verifying every file's hash
    unless check=False, and its signature under LATHE_TRUSTED_KEYS, see
    lathe.security.signing). This is `lathe.load` for code below the API."""
    from lathe.model import Model
    from lathe.registry.checkouts import take_verified
    from lathe.security.signing import check_artifact

    text = os.fspath(ref)
    path = resolve_model_ref(text, store)
    # a checkout just rebuilt from encrypted blobs was verified byte by byte while decrypting
    model = Model.load(path, check=check and not take_verified(path))
    check_artifact(model.path or text, label=text, manifest=model.manifest)
    return model
