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
"""

from __future__ import annotations

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
_KEYWORD = re.compile(r"(?<![\w.\-])([a-z][a-z0-9_]*)=(?=[\w\"'<\[{(./-])")


def cli_wording(text: str) -> str:
    """`name=VALUE` (how the Python API is called) as `--name VALUE` (how the CLI is)."""

    def flag(match: re.Match[str]) -> str:
        name = match.group(1)
        return _FLAGS.get(name, "--" + name.replace("_", "-")) + " "

    return _KEYWORD.sub(flag, text)


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
    return str(formatted() if callable(formatted) else message)


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
