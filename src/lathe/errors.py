"""One exception tree for lathe.

Every error knows the exit code the CLI returns and the HTTP status the server answers with,
and its message says what was wrong, where, and how to fix it::

    LatheError                     exit 1   HTTP 500
    ├── UsageError                 exit 2   HTTP 400   bad arguments or options
    ├── ConfigError                exit 78  HTTP 400   invalid lathe.yaml / parameter / plug-in name
    ├── DataError                  exit 65  HTTP 422   unreadable or unusable data
    │   ├── SchemaMismatch         exit 65  HTTP 422   predict-time columns/types differ from training
    │   └── DataQualityError       exit 65  HTTP 422   `lathe check` found a blocking problem
    ├── NotFound                   exit 66  HTTP 404   missing file, model, version, alias
    ├── Conflict                   exit 75  HTTP 409   already exists, concurrent change
    │   └── GateFailed             exit 75  HTTP 409   a promotion gate refused
    ├── IntegrityError             exit 65  HTTP 500   tampered or truncated artifact
    ├── Unauthorized               exit 77  HTTP 401
    ├── Forbidden                  exit 77  HTTP 403
    ├── RateLimited                exit 75  HTTP 429
    ├── StoreUnavailable           exit 69  HTTP 503   database or blob store cannot be reached
    └── MissingDependency          exit 69  HTTP 501   an optional extra is not installed

>>> err = DataError("column 'age' is all empty", hint="drop it or fill it", column="age")
>>> str(err)
"column 'age' is all empty. Fix: drop it or fill it"
>>> err.exit_code, err.http_status, err.details
(65, 422, {'column': 'age'})
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "LatheError",
    "UsageError",
    "ConfigError",
    "DataError",
    "SchemaMismatch",
    "DataQualityError",
    "NotFound",
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "Unauthorized",
    "Forbidden",
    "RateLimited",
    "StoreUnavailable",
    "MissingDependency",
    "did_you_mean",
]


class LatheError(Exception):
    """Base of every error lathe raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        if self.hint:
            sep = " " if self.message.rstrip()[-1:] in ("?", "!", ".") else ". "
            return f"{self.message.rstrip()}{sep}Fix: {self.hint}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, used by `--json` output and HTTP error bodies."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = {k: _jsonable(v) for k, v in self.details.items()}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class UsageError(LatheError):
    exit_code, http_status = 2, 400


class ConfigError(LatheError):
    exit_code, http_status = 78, 400


class DataError(LatheError):
    exit_code, http_status = 65, 422


class SchemaMismatch(DataError):
    pass


class DataQualityError(DataError):
    pass


class NotFound(LatheError):
    exit_code, http_status = 66, 404


class Conflict(LatheError):
    exit_code, http_status = 75, 409


class GateFailed(Conflict):
    pass


class IntegrityError(LatheError):
    exit_code, http_status = 65, 500


class Unauthorized(LatheError):
    exit_code, http_status = 77, 401


class Forbidden(LatheError):
    exit_code, http_status = 77, 403


class RateLimited(LatheError):
    exit_code, http_status = 75, 429


class StoreUnavailable(LatheError):
    exit_code, http_status = 69, 503


class MissingDependency(LatheError):
    exit_code, http_status = 69, 501


def did_you_mean(given: str, choices: Iterable[str], n: int = 3) -> str:
    """A short suggestion listing the closest valid names.

    >>> did_you_mean("incme", ["age", "income", "education"])
    "did you mean 'income'?"
    """
    options = list(choices)
    close = difflib.get_close_matches(given, options, n=n, cutoff=0.5)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = [lowered[given.lower()]] if given.lower() in lowered else []
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(repr(o) for o in options[:12])
    more = f" (and {len(options) - 12} more)" if len(options) > 12 else ""
    return f"valid names are {shown}{more}"
