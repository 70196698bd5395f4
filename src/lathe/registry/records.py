"""Plain records the registry returns, the ref syntax, and small shared helpers.

>>> parse_ref("churn"), parse_ref("churn@challenger"), parse_ref("churn:3")
(('churn', None, 'champion'), ('churn', None, 'challenger'), ('churn', 3, None))
>>> ModelVersion.from_row({"name": "churn", "version": 3, "metrics": "{}", "config": "{}"}).ref
'churn:3'
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from lathe.errors import NotFound, UsageError, did_you_mean

__all__ = [
    "ModelVersion",
    "AliasChange",
    "AuditEvent",
    "ModelSummary",
    "parse_ref",
    "check_name",
    "current_actor",
    "utc_now",
    "not_found_version",
    "not_found_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(value: str, what: str = "model name") -> str:
    if not _NAME.match(value or ""):
        raise UsageError(
            f"{what} {value!r} is not valid",
            hint="use letters, digits, '.', '_' and '-' (at most 100, starting with a letter "
            "or digit), e.g. churn or churn-v2",
        )
    return value


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """'NAME' -> champion, 'NAME@ALIAS', 'NAME:VERSION' -> (name, version, alias)."""
    if ":" in ref:
        name, _, number = ref.rpartition(":")
        if not number.isdigit():
            raise UsageError(
                f"model reference {ref!r}: version {number!r} is not a number",
                hint="write NAME:VERSION, e.g. churn:3",
            )
        return check_name(name), int(number), None
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return check_name(name), None, check_name(alias, "alias")
    return check_name(ref), None, "champion"


def current_actor() -> str:
    """Who is acting, for the audit log and the registry's roles: LATHE_USER, else
    LATHE_ACTOR, else the OS user name."""
    actor = os.environ.get("LATHE_USER") or os.environ.get("LATHE_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid-{os.getuid()}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable version of a model."""

    name: str
    version: int
    artifact_sha256: str = ""
    family: str | None = None
    task: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    dataset_hash: str | None = None
    parent: str | None = None
    git_commit: str | None = None
    creator: str = ""
    created_at: str = ""
    note: str | None = None
    primary_metric: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def test_metric(self, metric: str) -> float | None:
        """The recorded test value of `metric`, or None when there is none to compare.

        A binary model's plain precision/recall/f1 recorded before they meant the positive
        class (no `positive_class` beside them) were macro averages: not comparable, None.
        """
        test = self.metrics.get("test") or {}
        if (self.task == "binary" and metric in ("precision", "recall", "f1")
                and "positive_class" not in test):
            return None
        value = test.get(metric)
        return float(value) if isinstance(value, (int, float)) else None

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | Any) -> ModelVersion:
        # Called once per row of `list` (1,000s): keep it to one dict pass.
        values = {k: v for k, v in dict(row).items() if k in _VERSION_FIELDS}
        values["metrics"] = _loads(values.get("metrics")) or {}
        values["config"] = _loads(values.get("config")) or {}
        return cls(**values)


_VERSION_FIELDS = frozenset(f.name for f in fields(ModelVersion))


@dataclass(frozen=True)
class AliasChange:
    """What a promote or rollback did (`changed` is False when the alias already pointed there)."""

    name: str
    alias: str
    version: int
    previous: int | None
    changed: bool
    gate: dict[str, Any] | None = None
    forced: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    actor: str
    action: str
    name: str | None
    version: int | None
    alias: str | None
    before: Any
    after: Any
    reason: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | Any) -> AuditEvent:
        values = dict(row)
        values["before"] = _loads(values.get("before"))
        values["after"] = _loads(values.get("after"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    versions: int
    latest: int | None
    aliases: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_found_name(name: str, known: Iterable[str]) -> NotFound:
    names = sorted(known)
    where = did_you_mean(name, names) if names else "the registry is empty"
    return NotFound(
        f"no model named {name!r} in the registry; {where}",
        hint="see `lathe registry list`",
        name=name,
    )


def not_found_version(name: str, version: int, known: Iterable[int]) -> NotFound:
    numbers = sorted(known)
    if not numbers:
        where = f"{name} has no versions left"
    else:
        closest = sorted(numbers, key=lambda n: (abs(n - version), -n))[:3]
        shown = ", ".join(f"{name}:{n}" for n in sorted(closest))
        where = f"did you mean {shown}? ({len(numbers)} version(s), latest {name}:{numbers[-1]})"
    return NotFound(
        f"{name} has no version {version}; {where}",
        hint=f"see `lathe registry list {name}`",
        name=name,
        version=version,
    )
