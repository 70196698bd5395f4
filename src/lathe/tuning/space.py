"""Search spaces: a family's `search_space(trial)`, narrowed, widened or pinned by the user.

Overrides map a parameter name to one of
  * a fixed value (``num_leaves: 31``) — pinned, not searched;
  * ``{low: .., high: .., log: bool}`` — a numeric range (ints stay ints);
  * ``{choices: [..]}`` — a categorical choice.
A name the family does not search widens the space. `grid_from_space` turns the resulting
space into the finite grid GridSampler needs (three values per numeric range unless the user
gave `choices`).

>>> from lathe.models.gbm import GBM
>>> space = recorded_space(GBM, {"num_leaves": {"low": 16, "high": 64}, "max_bin": 63})
>>> space["num_leaves"], space["max_bin"]
({'low': 16, 'high': 64, 'log': True, 'kind': 'int'}, 63)
>>> grid_from_space({"num_leaves": {"low": 16, "high": 64, "log": True, "kind": "int"}})
{'num_leaves': [16, 32, 64]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lathe.errors import ConfigError, NotFound

__all__ = ["OverriddenTrial", "recorded_space", "grid_from_space", "load_space_overrides",
           "suggest_params", "starting_point", "GRID_POINTS"]

GRID_POINTS = 3


class OverriddenTrial:
    """Wraps an Optuna trial so a family's `suggest_*` calls see the user's overrides."""

    def __init__(self, trial: Any, overrides: Mapping[str, Any] | None = None) -> None:
        self.trial = trial
        self.overrides = dict(overrides or {})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.trial, name)

    def _override(self, name: str, low: Any, high: Any, log: bool, kind: str) -> Any:
        spec = self.overrides.get(name, _UNSET)
        if spec is _UNSET:
            return _suggest(self.trial, name, {"low": low, "high": high, "log": log, "kind": kind})
        return _suggest(self.trial, name, _normalise(name, spec, kind, log))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False,
                      step: float | None = None) -> Any:
        return self._override(name, low, high, log, "float")

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False,
                    step: int = 1) -> Any:
        return self._override(name, low, high, log, "int")

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        spec = self.overrides.get(name, _UNSET)
        if spec is _UNSET:
            return self.trial.suggest_categorical(name, list(choices))
        return _suggest(self.trial, name, _normalise(name, spec, "categorical", False))


_UNSET = object()


def _normalise(name: str, spec: Any, kind: str, log: bool) -> Any:
    """A dict spec gets its kind and log flag; anything else is a pinned value."""
    if not isinstance(spec, Mapping):
        return spec
    if "choices" in spec:
        return {"choices": list(spec["choices"]), "kind": "categorical"}
    if "low" not in spec or "high" not in spec:
        raise ConfigError(
            f"search space override for {name!r} needs low and high (or choices), got {dict(spec)}",
            hint=f"write e.g. {name}: {{low: 0.01, high: 0.2, log: true}}", field=name)
    low, high = spec["low"], spec["high"]
    if low > high:
        raise ConfigError(f"search space override for {name!r}: low {low} > high {high}",
                          hint="swap them", field=name)
    if kind == "categorical":  # a range given for a categorical parameter: treat as numbers
        kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
    if kind == "int" and not all(float(v).is_integer() for v in (low, high)):
        kind = "float"
    return {"low": low, "high": high, "log": bool(spec.get("log", log)), "kind": kind}


def _suggest(trial: Any, name: str, spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        return spec
    if spec["kind"] == "categorical":
        return trial.suggest_categorical(name, spec["choices"])
    if spec["kind"] == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=spec["log"])
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=spec["log"])


def suggest_params(family: Any, trial: Any, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The family's parameters for this trial, plus any parameters the overrides add."""
    wrapped = OverriddenTrial(trial, overrides)
    params = dict(family.search_space(wrapped))
    for name, spec in (overrides or {}).items():
        if name not in params:  # widening: a parameter the family does not search by default
            kind = "categorical" if isinstance(spec, Mapping) and "choices" in spec else (
                "int" if isinstance(spec, Mapping) and isinstance(spec.get("low"), int)
                and isinstance(spec.get("high"), int) else "float")
            params[name] = _suggest(trial, name, _normalise(name, spec, kind, False))
    return params


class _Recorder:
    """A stand-in trial that records what a search space asks for (returns the low end)."""

    def __init__(self) -> None:
        self.space: dict[str, Any] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False,
                      step: float | None = None) -> float:
        self.space[name] = {"low": low, "high": high, "log": log, "kind": "float"}
        return low

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False,
                    step: int = 1) -> int:
        self.space[name] = {"low": low, "high": high, "log": log, "kind": "int"}
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.space[name] = {"choices": list(choices), "kind": "categorical"}
        return list(choices)[0]


def recorded_space(family: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The effective space as data: name -> range/choices spec, or a pinned value."""
    recorder = _Recorder()
    params = suggest_params(family, recorder, overrides)
    return {name: recorder.space.get(name, value) for name, value in params.items()}


def starting_point(space: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The family's defaults, clipped into each searched range (categoricals only when the
    default is one of the choices). A study enqueues this as its first trial, so the search
    starts where an untuned model stands and its best is never worse on the tuning score.

    >>> space = {"num_leaves": {"low": 8, "high": 128, "log": True, "kind": "int"},
    ...          "lambda_l2": {"low": 1e-3, "high": 10.0, "log": True, "kind": "float"},
    ...          "bagging_freq": 1, "boosting": {"choices": ["gbdt", "dart"], "kind": "categorical"}}
    >>> starting_point(space, {"num_leaves": 31, "lambda_l2": 0.0, "boosting": "goss"})
    {'num_leaves': 31, 'lambda_l2': 0.001}
    """
    point: dict[str, Any] = {}
    for name, spec in space.items():
        if not isinstance(spec, Mapping) or name not in defaults:
            continue  # pinned, or no default to start from: the sampler picks
        value = defaults[name]
        if spec["kind"] == "categorical":
            if value in spec["choices"]:
                point[name] = value
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        value = min(max(value, spec["low"]), spec["high"])
        point[name] = int(round(value)) if spec["kind"] == "int" else float(value)
    return point


def _points(spec: Mapping[str, Any], n: int) -> list[Any]:
    low, high = float(spec["low"]), float(spec["high"])
    if spec["log"] and low > 0:
        values = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (n - 1))
                  for i in range(n)]
    else:
        values = [low + (high - low) * i / (n - 1) for i in range(n)]
    if spec["kind"] == "int":
        return sorted({int(round(v)) for v in values})
    return [float(f"{v:.4g}") for v in values]


def grid_from_space(space: Mapping[str, Any], points: int = GRID_POINTS) -> dict[str, list[Any]]:
    """A finite grid for GridSampler: numeric ranges become `points` values (log-spaced when
    the range is log), categoricals keep their choices, pinned values stay single."""
    grid: dict[str, list[Any]] = {}
    for name, spec in space.items():
        if not isinstance(spec, Mapping):
            grid[name] = [spec]
        elif spec["kind"] == "categorical":
            grid[name] = list(spec["choices"])
        else:
            grid[name] = _points(spec, points)
    return grid


def load_space_overrides(path: str | Path) -> dict[str, Any]:
    """Read overrides from YAML: either a top-level mapping or one under `tune: space:`."""
    import yaml

    file = Path(path)
    if not file.exists():
        raise NotFound(f"{file}: no such search-space file", file=str(file))
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})", file=str(file)) from None
    if isinstance(raw, dict) and isinstance(raw.get("tune"), dict):
        raw = raw["tune"].get("space", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of parameter -> range",
                          hint="write e.g. num_leaves: {low: 16, high: 64}", file=str(file))
    return raw
