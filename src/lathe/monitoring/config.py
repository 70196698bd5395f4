"""Reading monitoring YAML files (drift options here; `monitor run` rules in alerts.py).

>>> drift_options_from_file(None).drift_share
0.5
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lathe.errors import ConfigError, NotFound
from lathe.monitoring.detect import DriftOptions, parse_drift_options

__all__ = ["read_yaml", "drift_options_from_file"]


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    import yaml

    file = Path(path)
    if not file.is_file():
        raise NotFound(f"{file}: no such config file", hint="check the path", file=str(file))
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{file}{where}: not valid YAML", hint="fix the YAML syntax",
                          file=str(file)) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{file}: expected a mapping at the top", file=str(file))
    return loaded


def drift_options_from_file(path: str | os.PathLike[str] | None) -> DriftOptions:
    """The `drift:` section of a YAML file (or the whole file when it has none)."""
    if path is None:
        return DriftOptions()
    raw = read_yaml(path)
    section = raw.get("drift", raw) if isinstance(raw.get("drift", raw), dict) else None
    if section is None:
        raise ConfigError(f"{path}: `drift` must be a mapping", file=str(path))
    if "drift" not in raw:
        section = {k: v for k, v in raw.items() if k in ("drift_share", "columns", "kinds")}
    return parse_drift_options(section, f"{path}: drift")
