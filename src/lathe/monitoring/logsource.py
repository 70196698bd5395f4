"""`log:URL` as monitoring input: the prediction log (lathe.predlog) read back in chunks as
one row per predicted row, inputs spread into columns and, when a label column is named,
the attached outcomes in it (missing where none has arrived yet), oldest first.

>>> is_log_ref("log:sqlite:///.lathe/predictions.db"), is_log_ref("data.csv")
(True, False)
"""

from __future__ import annotations

from typing import Any, TypeGuard

from lathe.errors import DataError

__all__ = ["is_log_ref", "read_log", "model_name"]


def is_log_ref(ref: Any) -> TypeGuard[str]:
    return isinstance(ref, str) and ref.startswith("log:")


def model_name(ref: str | None) -> str | None:
    """The registry NAME of NAME, NAME@alias or NAME:VERSION (the log's route name)."""
    if ref is None or "/" in ref:
        return None
    return ref.split("@")[0].split(":")[0]


def read_log(ref: str, *, model: str | None = None, since: Any = None, until: Any = None,
             target: str | None = None, chunksize: int = 10_000) -> Any:
    """The logged rows of `model` (every model when None) between since and until."""
    import pandas as pd

    from lathe.predlog import inputs_frame, read_predictions

    url = ref.removeprefix("log:")
    parts = []
    for chunk in read_predictions(url, model=model, since=since, until=until,
                                  chunksize=chunksize):
        if chunk.empty:
            continue
        frame = inputs_frame(chunk)
        if target is not None:
            frame[target] = chunk["outcome"].to_numpy()
        parts.append(frame)
    if not parts:
        scope = f" for model {model!r}" if model else ""
        raise DataError(f"{url}: the prediction log has no rows{scope} in this window",
                        hint="check --since/--until and the model name", url=url)
    return pd.concat(parts, ignore_index=True)
