"""Usage errors on every command: exit 2, the usage line, what was wrong, a close match —
never "internal error", never a traceback. The command tree is walked, so a new command or
group is covered the day it is registered."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer

from lathe.cli import app, main


def _walk(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    ctx = typer.Context(group)
    found: list[tuple[tuple[str, ...], Any]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if hasattr(command, "list_commands"):
            found.append(((*path, name), command))
            found.extend(_walk(command, (*path, name)))
        else:
            found.append(((*path, name), command))
    return found


ROOT = typer.main.get_command(app)
COMMANDS = [(path, cmd) for path, cmd in _walk(ROOT) if not hasattr(cmd, "list_commands")]
GROUPS = [((), ROOT)] + [(path, cmd) for path, cmd in _walk(ROOT) if hasattr(cmd, "list_commands")]
REQUIRED = [(path, cmd) for path, cmd in COMMANDS if any(p.required for p in cmd.params)]


def _ids(items: list[tuple[tuple[str, ...], Any]]) -> list[str]:
    return [" ".join(path) or "lathe" for path, _ in items]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_usage_error(code: int, err: str, path: tuple[str, ...], *fragments: str) -> None:
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith(f"Usage: {' '.join(('lathe', *path))}"), err
    assert lines[-1].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, err)


def test_the_tree_holds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"check", "train", "evaluate", "predict", "explain", "tune", "compress", "serve",
            "deploy", "registry register", "registry promote"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids(COMMANDS))
def test_unknown_option(capsys: pytest.CaptureFixture[str], path: tuple[str, ...],
                        command: Any) -> None:
    code, out, err = _run(capsys, *path, "--nosuch-option", "x")
    _assert_usage_error(code, err, path, "--nosuch-option")
    assert out == ""


@pytest.mark.parametrize(("path", "command"), REQUIRED, ids=_ids(REQUIRED))
def test_missing_argument(capsys: pytest.CaptureFixture[str], path: tuple[str, ...],
                          command: Any) -> None:
    code, _, err = _run(capsys, *path)
    _assert_usage_error(code, err, path, "missing")
    first = next(p for p in command.params if p.required)
    assert (first.name or "").upper() in err.upper()


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=_ids(GROUPS))
def test_unknown_command_suggests_a_close_one(capsys: pytest.CaptureFixture[str],
                                              path: tuple[str, ...], group: Any) -> None:
    real = sorted(group.list_commands(typer.Context(group)))[0]
    code, _, err = _run(capsys, *path, real[:-1] + "x" if len(real) > 3 else "nosuch")
    _assert_usage_error(code, err, path, "no such command", repr(real))


def test_a_close_option_is_suggested(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "train", "--sed", "1", "data.csv")
    _assert_usage_error(code, err, ("train",), "did you mean '--seed'")


def test_a_bad_value_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "serve", "--port", "notaport", "x")
    _assert_usage_error(code, err, ("serve",), "--port")


def test_json_usage_error_is_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "train", "--json")
    assert code == 2 and "Usage: lathe train" in err
    payload = json.loads(out)
    assert payload["error"]["type"] == "UsageError" and payload["error"]["exit_code"] == 2
    assert "DATA" in payload["error"]["message"]


def test_json_lathe_error_is_one_json_object(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Any) -> None:
    code, out, err = _run(capsys, "train", str(tmp_path / "none.csv"), "--target", "y",
                          "--json")
    assert code == 66 and err.startswith("error: ")
    payload = json.loads(out)
    assert payload["error"]["type"] == "NotFound" and payload["error"]["exit_code"] == 66
    assert "none.csv" in payload["error"]["message"] and payload["error"]["hint"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from lathe import __version__

    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"lathe {__version__}"


@pytest.mark.parametrize("args", [
    ["nosuch"], ["train", "--nosuch", "x"], ["train"], ["registry", "nosuch"], ["predict"],
    ["serve", "--port", "notaport", "x"],
])
def test_real_process_exits_2(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "lathe.cli", *args], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("Usage: lathe")


def test_command_modules_import_only_typer_and_the_stdlib() -> None:
    code = ("import sys, lathe.cli; print(sorted(m for m in ('rich', 'numpy', 'pandas', "
            "'pydantic', 'sqlalchemy', 'yaml', 'sklearn', 'lightgbm', 'torch', 'lathe.api', "
            "'lathe.model') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
