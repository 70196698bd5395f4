"""`lathe keys new`: make a signing key (Ed25519, with FILE.pub) or an encryption key.

    lathe keys new --out lathe-signing.key          # lathe-signing.key (0600) + .pub
    lathe keys new --encryption --out enc.key       # a 256-bit key-encryption key (0600)
    lathe keys rotate enc2.key                      # re-wrap the registry's data keys

>>> sorted(c.name or c.callback.__name__ for c in app.registered_commands)
['new', 'rotate', 'sign', 'verify']
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lathe.cli._output import JsonFlag, console, emit_json

__all__ = ["app"]

app = typer.Typer(
    name="keys",
    help="Signing keys (Ed25519) and encryption keys for artifacts and the registry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def new(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the private key "
                                      "(a signing key's public key goes to OUT.pub).")],
    encryption: Annotated[bool, typer.Option(
        "--encryption", help="An AES-256 key-encryption key for LATHE_ENCRYPTION_KEY_FILE "
        "instead of a signing key.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a new key; never overwrites an existing file."""
    from lathe import api

    info = api.keys_new(out, encryption=encryption)
    if as_json:
        emit_json(info)
        return
    err = console()
    if encryption:
        err.print(f"[green]wrote[/] encryption key {info['path']} (id {info['key_id']}); use it "
                  f"with LATHE_ENCRYPTION_KEY_FILE={info['path']}", highlight=False)
    else:
        err.print(f"[green]wrote[/] signing key {info['path']} and public key "
                  f"{info['public_key']} (id {info['key_id']}); sign with --sign "
                  f"{info['path']}, trust with LATHE_TRUSTED_KEYS={info['public_key']}",
                  highlight=False)


@app.command()
def sign(
    model: Annotated[Path, typer.Argument(help="Artifact directory to sign in place.")],
    key: Annotated[Path, typer.Option("--key", help="Ed25519 private key file.")],
    as_json: JsonFlag = False,
) -> None:
    """Sign an existing artifact's manifest (after verifying every file's hash)."""
    from lathe import api

    record = api.keys_sign(model, key)
    if as_json:
        emit_json(record)
    else:
        console().print(f"[green]signed[/] {model} as {record['signer']} (key "
                        f"{record['key_id']})", highlight=False)


@app.command()
def verify(
    model: Annotated[str, typer.Argument(help="Artifact directory or registry reference.")],
    as_json: JsonFlag = False,
) -> None:
    """Verify an artifact's files and signature (against LATHE_TRUSTED_KEYS when set)."""
    from lathe import api

    record = api.keys_verify(model)
    if as_json:
        emit_json(record)
    else:
        console().print(f"[green]ok[/] {model}: {record['message']}", highlight=False)


@app.command()
def rotate(
    new_key: Annotated[Path, typer.Argument(help="The new key-encryption key file "
                                            "(lathe keys new --encryption).")],
    store: Annotated[str | None, typer.Option("--store", help="Registry URL (default "
                                              "LATHE_STORE).")] = None,
    prediction_log: Annotated[str | None, typer.Option(
        "--prediction-log", help="Rotate this prediction log's key (a URL) instead of the "
        "registry's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-wrap the data keys under a new key (the current one from
    LATHE_ENCRYPTION_KEY_FILE); nothing is re-encrypted."""
    from lathe import api

    done = api.keys_rotate(new_key, store=store, prediction_log=prediction_log)
    if as_json:
        emit_json(done)
    else:
        console().print(f"[green]re-wrapped[/] {done['rewrapped']} data key(s) in "
                        f"{done['keyring']}; {done['next']}", highlight=False)
