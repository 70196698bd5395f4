"""Failures as the user sees them: one `error:` line on stderr (and `{"error": {...}}` on
stdout under `--json`), and the exit code.

A usage error — a mistyped command, an unknown option, a missing argument, a value of the
wrong type — exits 2 with the command's usage line, what was wrong and the closest valid
names (difflib), never "internal error". API errors name API parameters (`target=`); the
CLI words them as the flags the user typed (`--target`).

>>> cli_wording("pass target=COLUMN (or data.target in lathe.yaml)")
'pass --target COLUMN (or data.target in lathe.yaml)'
>>> cli_wording("time_budget_s=60 is too short")
'--time-budget 60 is too short'
>>> cli_wording("pass force=True to replace it, or fix the input or pass strict=False")
'pass --force to replace it, or fix the input or drop --strict'
>>> cli_wording("choose another out=; or out=DIR")
'choose another --out; or --out DIR'
>>> cli_wording("pass task='regression'")
'pass --task regression'
>>> cli_wording("value 'a=b' in row 3")
"value 'a=b' in row 3"
>>> cli_wording("no scheduler at dask://local?workers=2&threads=1")
'no scheduler at dask://local?workers=2&threads=1'
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

from lathe.cli._output import emit_json, error_payload
from lathe.errors import LatheError, did_you_mean

__all__ = ["cli_wording", "report", "report_error", "report_usage"]

# API keyword -> CLI flag, where the flag is not the keyword with dashes
_FLAGS = {
    "time_budget_s": "--time-budget",
    "timeout_s": "--timeout",
    "text_columns": "--text",
    "categorical_columns": "--categorical",
    "drop_columns": "--drop",
    "cv_folds": "--cv",
    "study_name": "--study",
    "bag_folds": "--bag",
    "refit_all": "--refit",
    "space_overrides": "--space",
}
_ARGUMENT = re.compile(r"\{(\w+)\}")
_SWITCH_OFF = re.compile(r"\bpass ([a-z][a-z0-9_]*)=False\b")
_SWITCH_ON = re.compile(r"(?<![\w.\-?&/])([a-z][a-z0-9_]*)=True\b")
_QUOTED = re.compile(r"(?<![\w.\-?&/])([a-z][a-z0-9_]*)=(['\"])([\w.-]+)\2")
# (?<!...): a name right after ? & or / is a URL's query or path, never an API keyword
_KEYWORD = re.compile(r"(?<![\w.\-?&/])([a-z][a-z0-9_]*)=(?=([\w\"'<\[{(./-])|\s|$|[,;:)])")


def cli_wording(text: str) -> str:
    """`name=VALUE` (how the Python API is called) as `--name VALUE` (how the CLI is), for
    the names that are options of some lathe command; any other `x=y` is left alone."""
    known = _option_names()

    def flag_of(match: re.Match[str], rest: str = "") -> str:
        name = match.group(1)
        if name not in known and name not in _FLAGS:
            return match.group(0)
        return _FLAGS.get(name, "--" + name.replace("_", "-")) + rest

    def drop(match: re.Match[str]) -> str:
        flag = flag_of(match)
        return match.group(0) if flag == match.group(0) else f"drop {flag}"

    text = _SWITCH_OFF.sub(drop, text)
    text = _SWITCH_ON.sub(flag_of, text)
    text = _QUOTED.sub(lambda m: m.group(0) if flag_of(m) == m.group(0)
                       else f"{flag_of(m)} {m.group(3)}", text)
    return _KEYWORD.sub(lambda m: flag_of(m, " " if m.group(2) else ""), text)


@functools.cache
def _option_names() -> frozenset[str]:
    """Python names of every option of every lathe command (`time_budget`, `out`, ...)."""
    import typer

    from lathe.cli import app

    names: set[str] = set()
    stack = [typer.main.get_command(app)]
    while stack:
        command = stack.pop()
        names.update(p.name for p in command.params if p.name and getattr(p, "opts", None)
                     and any(o.startswith("--") for o in p.opts))
        stack.extend(getattr(command, "commands", {}).values())
    return frozenset(names)


def report(kind: str, line: str, code: int, as_json: bool, /, **extra: Any) -> int:
    """Print one error line (and the JSON error object under --json); return `code`."""
    sys.stderr.write(f"error: {line}\n")
    if as_json:
        extra.setdefault("message", line)
        emit_json(error_payload(kind, exit_code=code, **extra))
    return code


def report_error(err: LatheError, as_json: bool) -> int:
    """A LatheError: `error: <message>. Fix: <hint>` in CLI words, its exit code."""
    body = dict(err.to_dict()) if as_json else {}
    kind = body.pop("error", type(err).__name__)
    for key in ("message", "hint"):
        if body.get(key):
            body[key] = cli_wording(str(body[key]))
    return report(str(kind), cli_wording(str(err)), err.exit_code, as_json, **body)


def _long_options(command: Any) -> list[str]:
    names: list[str] = []
    for param in getattr(command, "params", []):
        for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            if opt.startswith("--"):
                names.append(opt)
    return names


def _explain(err: Any) -> str:
    """What was wrong, with the closest valid names."""
    ctx = getattr(err, "ctx", None)
    kind = type(err).__name__
    if kind == "NoSuchOption" and ctx is not None:
        given = str(getattr(err, "option_name", ""))
        options = [o for o in _long_options(ctx.command) if o != "--help"] + ["--help"]
        return f"no such option {given}; {did_you_mean(given, options)}"
    message = str(getattr(err, "message", err))
    unknown = re.match(r"No such command '([^']*)'", message)
    if unknown and ctx is not None:
        given = unknown.group(1)
        commands = list(ctx.command.list_commands(ctx))
        return f"no such command {given!r}; {did_you_mean(given, commands)}"
    if kind == "MissingParameter":
        param = getattr(err, "param", None)
        name = str(getattr(param, "name", "") or "").upper()
        if getattr(param, "param_type_name", "") == "argument" and name:
            return f"missing argument {name}"
        flags = [o for o in getattr(param, "opts", []) if o.startswith("--")]
        if getattr(param, "param_type_name", "") == "option" and flags:
            return f"missing option {flags[0]}"  # a required option, e.g. monitor run --config
    formatted = getattr(err, "format_message", None)
    text = str(formatted() if callable(formatted) else message)
    return text.replace("Value error, ", "")  # pydantic's prefix on typer's type checks


def report_usage(err: Any, as_json: bool) -> int:
    """A click/typer usage error: usage line, what was wrong, a close match; exit 2."""
    ctx = getattr(err, "ctx", None)
    code = int(getattr(err, "exit_code", 2) or 2)
    if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:
        # `lathe` or `lathe registry` alone: the help, as click does (typer's rich help has
        # printed itself already and left the message empty)
        if getattr(err, "message", ""):
            sys.stderr.write(str(err.message) + "\n")
        return code
    if code != 2:
        return report("UsageError", _explain(err), code, as_json)
    usage = ctx.get_usage() if ctx is not None else "Usage: lathe [OPTIONS] COMMAND [ARGS]..."
    usage = _ARGUMENT.sub(lambda m: m.group(1).upper(), usage.strip())
    where = ctx.command_path if ctx is not None else "lathe"
    message = f"{_explain(err)} (see '{where} --help')"
    sys.stderr.write(usage + "\n")
    return report("UsageError", message, 2, as_json, usage=usage)
