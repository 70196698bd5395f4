"""`lathe registry ...`: a Typer group; each command opens the store and calls one method.

`lathe.cli` mounts `app` under the name `registry`; errors are LatheErrors, which
`lathe.cli.main` turns into one line and an exit code. Human output goes to stderr;
`register` prints NAME:VERSION on stdout and `--json` one JSON object.

>>> sorted(c.name or c.callback.__name__ for c in app.registered_commands)
['backup', 'delete', 'gc', 'grant', 'grants', 'history', 'list', 'promote', 'register',
 'restore', 'revoke', 'rollback']
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lathe.cli._output import JsonFlag, console, emit_json
from lathe.registry.gates import DEFAULT_TOLERANCE  # stdlib only: --help stays fast

__all__ = ["app"]

app = typer.Typer(
    name="registry",
    help="Versions, aliases (champion, challenger, ...), promotion gates, rollback and audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Registry URL: sqlite:///path.db or postgresql://user@host:5432/db "
        "(default: LATHE_STORE, else sqlite:///.lathe/lathe.db).",
    ),
]
AliasOption = Annotated[str, typer.Option("--alias", help="Alias to move.")]


def _open(store: str | None) -> Any:
    from lathe.registry.registry import open_registry

    return open_registry(store)


def _table(title: str, columns: list[str], rows: list[list[Any]],
           keep: tuple[str, ...] = ()) -> Any:
    """A table that fits 80 columns: the `keep` columns (numbers, dates) are never cut or
    wrapped; the others fold onto more lines instead of losing text."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for column in columns:
        if column in keep:
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("—" if v is None else str(v) for v in row))
    return table


def _score(record: Any, shared: str | None) -> str | None:
    metric = record.primary_metric
    value = record.test_metric(metric) if metric else None
    if value is None:
        return None
    return f"{value:.4f}" if metric == shared else f"{metric} {value:.4f}"


@app.command()
def register(
    model: Annotated[Path, typer.Argument(help="Artifact directory written by `lathe train`.")],
    name: Annotated[str, typer.Option("--name", help="Registry name, e.g. churn.")],
    note: Annotated[str | None, typer.Option("--note", help="Why this version exists.")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an artifact as the next version of NAME (prints NAME:VERSION)."""
    from lathe import api

    record = api.register(model, name, note=note, store=store)
    if as_json:
        emit_json(record.to_dict())
    else:
        sys.stdout.write(record.ref + "\n")


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="A model name (default: all models).")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List models, or the versions of NAME with their aliases."""
    with _open(store) as registry:
        if name is None:
            summaries = registry.models()
            if as_json:
                emit_json({"models": [s.to_dict() for s in summaries]})
                return
            rows = [
                [s.name, s.versions, s.latest, ", ".join(f"{a}→{v}" for a, v in s.aliases.items())]
                for s in summaries
            ]
            console().print(_table("models", ["name", "versions", "latest", "aliases"], rows))
            return
        records = registry.list(name)
        pointers = registry.aliases(name)
    if as_json:
        emit_json({"name": name, "aliases": pointers, "versions": [r.to_dict() for r in records]})
        return
    held: dict[int, list[str]] = {}
    for alias, version in pointers.items():
        held.setdefault(version, []).append(alias)
    metrics = {r.primary_metric for r in records}
    shared = next(iter(metrics)) if len(metrics) == 1 else None
    rows = [
        [r.version, ", ".join(sorted(held.get(r.version, []))), r.family, _score(r, shared),
         r.created_at[:16].replace("T", " "), r.creator, r.note]
        for r in records
    ]
    test = f"test {shared}" if shared else "test"
    columns = ["v", "aliases", "family", test, "created (UTC)", "by", "note"]
    console().print(_table(name, columns, rows, keep=("v", test, "created (UTC)")))


@app.command()
def history(
    name: Annotated[str, typer.Argument(help="A model name.")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The append-only audit log of NAME: who did what, when, why."""
    with _open(store) as registry:
        events = registry.history(name)
    if as_json:
        emit_json({"name": name, "events": [e.to_dict() for e in events]})
        return

    def change(event: Any) -> str:
        before = (event.before or {}).get("version") if event.alias else None
        after = (event.after or {}).get("version") if event.alias else event.version
        arrow = f"{before or '—'}→{after}" if event.alias else str(after)
        return f"@{event.alias} {arrow}" if event.alias else arrow

    rows = [[e.id, e.at[:19], e.actor, e.action, change(e), e.reason] for e in events]
    columns = ["#", "when (UTC)", "who", "action", "change", "why"]
    console().print(_table(f"{name} history", columns, rows, keep=("#", "when (UTC)")))


def _evaluate(artifact: Path, data: Any) -> Any:
    """How the gate scores a version on --on DATA: `lathe.evaluate`, handed to the registry
    (which imports no API)."""
    from lathe import api

    return api.evaluate(artifact, data)


def _validate(artifact: Path, data: Any) -> Any:
    """How --require-validation runs the suite on --on DATA: `lathe.validate`."""
    from lathe import api

    return api.validate(artifact, data)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="A model name.")],
    version: Annotated[int, typer.Argument(help="The version to promote.")],
    alias: AliasOption = "champion",
    on: Annotated[
        Path | None,
        typer.Option("--on", help="Gate on this labelled data (evaluates both versions)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Skip the gate (needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Gate metric (default: the task's primary).")
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="How much worse than the champion is allowed.")
    ] = DEFAULT_TOLERANCE,
    require_validation: Annotated[
        bool, typer.Option("--require-validation",
                           help="Also require a passing validation suite: the default suite "
                                "on --on DATA, else the last `lathe validate NAME:VERSION`.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Point an alias at NAME:VERSION; the champion must pass the gate unless --force."""
    with _open(store) as registry:
        change = registry.promote(
            name,
            version,
            alias=alias,
            on=on,
            force=force,
            reason=reason,
            metric=metric,
            tolerance=tolerance,
            evaluate=_evaluate,
            require_validation=require_validation,
            validate=_validate,
        )
    if as_json:
        emit_json(change.to_dict())
        return
    err = console()
    if not change.changed:
        err.print(f"{name}@{alias} is already {name}:{version}")
        return
    gate = change.gate
    detail = ""
    if gate:
        detail = f" ({gate['metric']} {gate['candidate']:.4f} vs {gate['champion']:.4f})"
    elif change.forced:
        detail = " (forced)"
    err.print(
        f"[green]{name}@{alias}[/] → {name}:{version} (was {change.previous or '—'}){detail}"
    )


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="A model name.")],
    alias: AliasOption = "champion",
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Move an alias back to the version that held it before."""
    with _open(store) as registry:
        change = registry.rollback(name, alias=alias, reason=reason)
    if as_json:
        emit_json(change.to_dict())
        return
    console().print(
        f"[green]{name}@{alias}[/] rolled back to {name}:{change.version} "
        f"(was {name}:{change.previous})"
    )


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="A model name.")],
    version: Annotated[int, typer.Argument(help="The version to delete.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audited).")] = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a version no alias points at (the champion cannot be deleted)."""
    with _open(store) as registry:
        record = registry.delete(name, version, reason=reason)
    if as_json:
        emit_json({"deleted": record.ref})
        return
    console().print(f"deleted {record.ref}")


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Backup file to write (.tar.gz).")],
    store: StoreOption = None,
) -> None:
    """Write every version, alias, audit row and blob to one file."""
    with _open(store) as registry:
        path = registry.backup(file)
    console().print(f"[green]backup[/] written to [bold]{path}[/]")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `lathe registry backup`.")],
    store: StoreOption = None,
) -> None:
    """Load a backup into an empty store."""
    with _open(store) as registry:
        counts = registry.restore(file)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    console().print(f"[green]restored[/] {summary} from [bold]{file}[/]")


@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; remove nothing.")] = False,
    min_age: Annotated[float, typer.Option(
        "--min-age", min=0, help="Seconds an unreferenced file must have existed before it is "
        "removed (default 3600: a register under way is never raced; 0 only when no writer "
        "runs).")] = 3600.0,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-hash every referenced blob (slower; finds altered ones).")] = False,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove blobs no version references (a killed register, deleted versions), partial
    writes and stale checkouts; report versions whose blobs are missing (exit 65)."""
    from lathe.registry.gc import collect_garbage

    with _open(store) as registry:
        report = collect_garbage(registry, dry_run=dry_run, min_age_s=min_age,
                                 verify_blobs=verify)
    broken = report["missing_blobs"] or report["dangling_aliases"]
    if as_json:
        emit_json(report)
    else:
        _print_gc(report)
    if broken:
        raise typer.Exit(65)  # IntegrityError's code: the registry lost data gc cannot repair


def _print_gc(report: dict[str, Any]) -> None:
    err = console()
    verb = "removed" if report["removed"] else "would remove"
    counts = {key: len(report[key]) for key in ("orphan_blobs", "partial_writes",
                                                 "stale_checkouts")}
    err.print(f"{verb} {counts['orphan_blobs']} orphan blob(s), {counts['partial_writes']} "
              f"partial write(s), {counts['stale_checkouts']} stale checkout(s): "
              f"{report['bytes_freed']:,} bytes, from {report['blob_root']}")
    if report["kept_young"]:
        err.print(f"kept {report['kept_young']} unreferenced blob(s) younger than "
                  f"{report['min_age_s']:g} s (a register may be under way)")
    for item in report["missing_blobs"]:
        err.print(f"[red]error:[/] {item['version']} file {item['file']}: blob "
                  f"{item['sha256'][:12]}… is missing. Fix: lathe registry restore from a "
                  "backup, or delete the version", highlight=False)
    for item in report["dangling_aliases"]:
        err.print(f"[red]error:[/] {item['name']}@{item['alias']} points at missing version "
                  f"{item['version']}. Fix: lathe registry promote {item['name']} VERSION "
                  f"--alias {item['alias']} --force --reason ...", highlight=False)


@app.command()
def grant(
    user: Annotated[str, typer.Argument(help="Who (LATHE_USER, else the OS user name).")],
    role: Annotated[str, typer.Argument(help="reader, writer, promoter or admin.")],
    name: Annotated[str, typer.Argument(help="Model name, or '*' for every model.")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Give USER ROLE on model NAME (admins only; the first grant turns roles on and makes
    you admin of '*')."""
    from lathe import api

    made = api.registry_grant(user, role, name, store=store)
    if as_json:
        emit_json({"grants": made})
        return
    for row in made:
        console().print(f"granted {row['user']} {row['role']} on {row['name']}",
                        highlight=False)


@app.command()
def revoke(
    user: Annotated[str, typer.Argument(help="Whose grant.")],
    name: Annotated[str, typer.Argument(help="Model name, or '*'.")],
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Take USER's role on NAME away (admins only)."""
    from lathe import api

    gone = api.registry_revoke(user, name, store=store)
    if as_json:
        emit_json({"revoked": gone})
    else:
        console().print(f"revoked {gone['user']}'s {gone['role']} on {gone['name']}",
                        highlight=False)


@app.command()
def grants(
    name: Annotated[str | None, typer.Argument(help="Only grants on this model (and '*').")]
    = None,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Who holds which role on which model."""
    from lathe import api

    rows = api.registry_grants(name, store=store)
    if as_json:
        emit_json({"grants": rows})
        return
    console().print(_table("grants", ["user", "role", "model", "granted by", "at"],
                           [[r["user"], r["role"], r["name"], r["granted_by"],
                             r["granted_at"][:19]] for r in rows], keep=("at",)))
