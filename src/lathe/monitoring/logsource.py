"""`log:URL` as monitoring input: the prediction log (lathe.predlog) read back in chunks as
one row per predicted row, inputs spread into columns and, when a label column is named,
the attached outcomes in it (missing where none has arrived yet), oldest first.

The rows are those of one model and, when the model is named by a registry reference or an
artifact path, of the version the server logs for it (`log_scope`): `NAME:VERSION` for a
registry model, the first 12 hex digits of the manifest's sha256 for an artifact directory
(what lathe.serving.sources reports).

>>> is_log_ref("log:sqlite:///.lathe/predictions.db"), is_log_ref("data.csv")
(True, False)
>>> model_name("churn@champion"), model_name("churn:3"), model_name(None)
('churn', 'churn', None)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeGuard

from lathe.errors import DataError, StoreUnavailable

__all__ = ["is_log_ref", "read_log", "read_log_times", "model_name", "log_scope"]


def is_log_ref(ref: Any) -> TypeGuard[str]:
    return isinstance(ref, str) and ref.startswith("log:")


def model_name(ref: str | None) -> str | None:
    """The registry NAME of NAME, NAME@alias or NAME:VERSION (the log's route name)."""
    if ref is None or "/" in ref:
        return None
    return ref.split("@")[0].split(":")[0]


def log_scope(ref: str | None, store: str | None = None) -> dict[str, str | None]:
    """{model, version} as the server logs them for the model `ref` (both None without one)."""
    if ref is None:
        return {"model": None, "version": None}
    path = Path(ref)
    if (path / "manifest.json").is_file():  # served by path: the manifest's hash
        digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()[:12]
        return {"model": path.resolve().name, "version": digest}
    from lathe.registry.registry import open_registry

    with open_registry(store) as registry:
        record = registry.resolve(ref)  # NotFound (66) for an unknown name or alias
    return {"model": record.name, "version": record.ref}


def read_log(ref: str, **options: Any) -> Any:
    """The logged rows (see `read_log_times`), without their times."""
    return read_log_times(ref, **options)[0]


def read_log_times(ref: str, *, model: str | None = None, version: str | None = None,
                   since: Any = None, until: Any = None, target: str | None = None,
                   labelled_only: bool = False, chunksize: int = 10_000) -> tuple[Any, Any]:
    """The logged rows of `model` (every model when None; one `version` when given) between
    since (inclusive) and until (exclusive), and each row's prediction time (UTC)."""
    import numpy as np
    import pandas as pd
    from sqlalchemy.exc import SQLAlchemyError

    from lathe.predlog import inputs_frame, read_predictions

    url = ref.removeprefix("log:")
    parts, times = [], []
    try:
        chunks = read_predictions(url, model=model, version=version, since=since, until=until,
                                  chunksize=chunksize)
        for chunk in chunks:
            if labelled_only:
                chunk = chunk[chunk["outcome_updates"] > 0]
            if chunk.empty:
                continue
            frame = inputs_frame(chunk)
            if target is not None:
                frame[target] = chunk["outcome"].to_numpy()
            parts.append(frame)
            times.append(chunk["time"].to_numpy(dtype="datetime64[us]"))
    except (SQLAlchemyError, OSError) as exc:  # the database (or its driver) did not answer
        raise StoreUnavailable(f"{url}: the prediction log does not answer "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                        hint="check the log URL and that its database answers",
                        url=url) from None
    if not parts:
        scope = f" for model {model!r}" if model else ""
        scope += f" version {version!r}" if version else ""
        what = "labelled rows" if labelled_only else "rows"
        hint = "check --since/--until/--window and the model name"
        if version is not None:
            first = next(read_predictions(url, model=model, since=since, until=until,
                                          chunksize=200, per_row=False), None)
            if first is not None and len(first):
                others = ", ".join(sorted(set(first["version"].astype(str)))[:3])
                hint = f"the log holds version(s) {others} in this window: name one of them"
        raise DataError(f"{url}: the prediction log has no {what}{scope} in this window",
                        hint=hint, url=url)
    return pd.concat(parts, ignore_index=True), np.concatenate(times)
