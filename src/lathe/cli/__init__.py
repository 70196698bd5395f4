"""The `lathe` command line: thin Typer commands, each parsing its options and calling one
function of `lathe.api`.

Layout: this module holds `app`, `main()` (errors -> one line and an exit code), `run()`
(the console script) and `_add_subcommands()`; every command or group has its own module
(`check.py`, `train.py`, ..., `registry.py`); `_output.py` is the one JSON writer and the
stderr console; `_usage.py` turns a mistyped command, an unknown option or a missing
argument into exit 2 with the usage line and a close match.

Adding a command group (monitor, experiment, decide, ...):

1. Write `lathe/cli/<group>.py` that imports only typer, the stdlib and `lathe.cli._output`
   at top level (so `lathe --help` stays < 0.5 s), defines ``app = typer.Typer(name=...,
   help=..., no_args_is_help=True)`` with its commands, and calls one `lathe.api` function
   per command (imported inside the command). Print with `emit_json(...)` for `--json`
   (declare the flag as ``as_json: JsonFlag = False``) and `console()` for humans.
2. Add ONE line to `_add_subcommands()` below: ``_group("monitor")``. A single command
   (not a group) is ``_command("name")``: module `lathe/cli/name.py`, function `name`.

Raise LatheErrors for bad input: `main` prints `error: ...` on stderr (or `{"error": {...}}`
on stdout under `--json`) and exits with the error's code — never a traceback
(LATHE_DEBUG=1 shows one). `tests/integration/test_cli_usage.py` runs every command it
finds with an unknown option and with a missing argument.

>>> sorted(c.name for c in app.registered_commands)[:4]
['check', 'compare', 'compress', 'decide']
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from lathe.errors import LatheError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="lathe",
    help="From a dataset to a model in production, and honest there.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _show_version(value: bool) -> None:
    if value:
        from lathe import __version__

        typer.echo(f"lathe {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """From a dataset to a model in production, and honest there."""


def _command(name: str, module: str | None = None) -> None:
    """Register `lathe <name>`: the function `name` of `lathe.cli.<module or name>`."""
    found = importlib.import_module(f"lathe.cli.{module or name}")
    app.command(name)(getattr(found, name.replace("-", "_")))


def _group(name: str) -> None:
    """Register `lathe <name> ...`: the Typer `app` of `lathe.cli.<name>`."""
    found = importlib.import_module(f"lathe.cli.{name.replace('-', '_')}")
    app.add_typer(found.app, name=name)


def _add_subcommands() -> None:
    # one line per command or group, in the order `lathe --help` lists them
    _command("check")
    _command("train")
    _command("evaluate")
    _command("predict")
    _command("explain")
    _command("tune")
    _command("compress")
    _command("compare")
    _command("decide")
    _command("validate")
    _group("registry")
    _command("serve")
    _command("deploy", "serve")
    _command("stream")
    _group("experiment")
    _group("monitor")
    _command("retrain")
    _group("keys")
    _group("privacy")
    app.command("version")(version)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    from lathe.cli import _usage

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        # without standalone mode, click returns the code of a typer.Exit instead of raising
        result = app(args=args, prog_name="lathe", standalone_mode=False)
        if isinstance(result, int):
            return result
    except LatheError as err:
        if os.environ.get("LATHE_DEBUG"):
            raise
        return _usage.report_error(err, as_json)
    except KeyboardInterrupt:
        return _usage.report("Interrupted", "interrupted", 130, as_json)
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except typer.Abort:
        return _usage.report("Aborted", "aborted", 130, as_json)
    except typer.TyperException as err:
        # click's usage errors (typer vendors click): exit 2 with the usage line
        return _usage.report_usage(err, as_json)
    except Exception as err:  # noqa: BLE001 - the last line of defence for the CLI
        if os.environ.get("LATHE_DEBUG"):
            raise
        message = (
            f"internal error: {type(err).__name__}: {err} "
            "(this is a bug in lathe; rerun with LATHE_DEBUG=1 and report the traceback)"
        )
        return _usage.report("InternalError", message, 70, as_json)
    return 0


def run() -> None:
    sys.exit(main())


def version() -> None:
    """Print the lathe version (same as `lathe --version`)."""
    from lathe import __version__

    typer.echo(__version__)


_add_subcommands()
