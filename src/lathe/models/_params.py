"""Declared parameters: each family says which parameters its constructor takes and their
types, and `ModelFamily(**params)` refuses anything else by name — as scikit-learn's
`set_params` and `_param_validation` do — instead of carrying a typo silently into a fit.

A family declares `param_types = {"name": annotation, ...}` with ordinary typing
annotations (`float`, `int | None`, `Literal["auto"] | float`, `list[int]`); every key of
`default_params()` must be declared. Values are checked strictly (pydantic's strict mode):
an int is a float, but a bool is not a number, "3" is not an int and 2.5 is not one either.
A NumPy scalar counts as the Python number it holds, and a tuple as a list. Parameters the
family passes on to a library that checks them itself (LightGBM's) are accepted through
`ModelFamily.accepts_param`.

>>> from typing import Literal
>>> check_params("demo", {"rate": float, "mode": Literal["fast", "best"]}, {"rate": 0.1})
>>> check_params("demo", {"rate": float}, {"rtae": 0.1})
Traceback (most recent call last):
lathe.errors.ConfigError: unknown demo parameter 'rtae'; did you mean 'rate'? Fix: the demo family takes: rate
>>> check_params("demo", {"mode": Literal["frozen", "finetune"]}, {"mode": "finetun"})
Traceback (most recent call last):
lathe.errors.ConfigError: demo parameter mode must be one of 'frozen', 'finetune', got 'finetun'; did you mean 'finetune'? Fix: the demo family takes: mode
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lathe.errors import ConfigError, did_you_mean

__all__ = ["check_params", "describe_type"]


def describe_type(annotation: Any) -> str:
    """A short English name for an annotation: 'a number', 'true or false', "one of 'a', 'b'".

    >>> from typing import Literal
    >>> describe_type(Literal["auto"] | float), describe_type(list[int] | None)
    ("'auto' or a number", 'a list of whole numbers or None')
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        literals = [a for a in args if typing.get_origin(a) is typing.Literal]
        others = [a for a in args if typing.get_origin(a) is not typing.Literal]
        choices = [c for lit in literals for c in typing.get_args(lit)]
        parts = ([_choices(choices)] if choices else []) + [describe_type(a) for a in others]
        return " or ".join(parts)
    if origin is typing.Literal:
        return _choices(list(args))
    if origin is list:
        return f"a list of {_plural(describe_type(args[0]))}" if args else "a list"
    if origin is dict:
        return "a mapping"
    names = {float: "a number", int: "a whole number", bool: "true or false", str: "text",
             type(None): "None", Any: "anything"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _choices(values: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in values)
    return f"one of {shown}" if len(values) > 1 else shown


def _plural(text: str) -> str:
    return {"a number": "numbers", "a whole number": "whole numbers",
            "text": "texts"}.get(text, text)


def _literal_strings(annotation: Any) -> list[str]:
    """The string choices an annotation allows (for a "did you mean")."""
    out = []
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            out += [a for a in typing.get_args(arg) if isinstance(a, str)]
    return out


@functools.lru_cache(maxsize=512)
def _adapter(annotation: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(annotation)


def _fits(annotation: Any, value: Any) -> bool:
    from pydantic import ValidationError

    if annotation is Any:
        return True
    if isinstance(value, np.generic):  # a NumPy scalar is the Python number it holds
        value = value.item()
    elif isinstance(value, tuple):  # and a tuple is a list
        value = list(value)
    try:
        _adapter(annotation).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def check_params(family: str, declared: Mapping[str, Any], given: Mapping[str, Any],
                 accepts: Callable[[str], bool] | None = None, note: str = "") -> None:
    """Raise ConfigError for the first key of `given` that `declared` does not name (and
    `accepts` does not take) or whose value is not of the declared type. The message names
    the key and a close match; the hint lists every parameter the family takes."""
    allowed = sorted(declared)
    hint = f"the {family} family takes: {', '.join(allowed)}" + (f", {note}" if note else "")
    for key, value in given.items():
        if key not in declared:
            if accepts is not None and accepts(key):
                continue
            raise ConfigError(f"unknown {family} parameter {key!r}; {did_you_mean(key, allowed)}",
                              hint=hint, field=key)
        annotation = declared[key]
        if not _fits(annotation, value):
            message = f"{family} parameter {key} must be {describe_type(annotation)}, got {value!r}"
            choices = _literal_strings(annotation)
            if isinstance(value, str) and choices:
                close = did_you_mean(value, choices)
                if close.startswith("did you mean"):
                    message += f"; {close}"
            raise ConfigError(message, hint=hint, field=key)
