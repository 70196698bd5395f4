"""`lathe serve` and `lathe deploy`: parse the options, hand them to lathe.serving.

    lathe serve models/adult churn@champion --port 8000 --api-keys keys.yaml
    lathe deploy k8s churn --out deploy/

Heavy imports (FastAPI, uvicorn) happen inside the commands, so `lathe --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["serve", "deploy"]


def serve(
    models: Annotated[
        list[str],
        typer.Argument(help="artifact dirs or registry refs: NAME, NAME@ALIAS, NAME:VERSION"),
    ],
    host: Annotated[
        str, typer.Option(help="interface to bind; not localhost needs --api-keys")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_keys: Annotated[
        Path | None,
        typer.Option("--api-keys", help="YAML file of hashed API keys (see lathe.serving.auth)"),
    ] = None,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
    batching: Annotated[
        bool, typer.Option("--batching/--no-batching", help="adaptive micro-batching")
    ] = True,
    max_batch: Annotated[int, typer.Option(help="most rows in one model call")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(help="most time a request waits for a batch to fill")
    ] = 2.0,
    reload_every: Annotated[
        float, typer.Option(help="seconds between checks for a moved alias (0 = never)")
    ] = 5.0,
    prediction_log: Annotated[
        str, typer.Option(help="SQLAlchemy URL of the prediction log ('' = off)")
    ] = "sqlite:///.lathe/predictions.db",
    mask_pii: Annotated[bool, typer.Option(
        "--mask-pii", help="the prediction log stores requests with their PII masked "
        "(emails, phones, IDs, cards, ...; see lathe privacy mask)")] = False,
    store: Annotated[str | None, typer.Option(help="registry URL (default LATHE_STORE)")] = None,
    experiments: Annotated[bool, typer.Option(
        "--experiments", help="route by running experiments (lathe experiment start)")] = False,
    missing_unit: Annotated[str, typer.Option(
        help="experiments: a request without a unit id gets 'reject' (422) or 'control'")
    ] = "reject",
    check_every: Annotated[float, typer.Option(
        help="experiments: seconds between guardrail checks and experiment refreshes")] = 30.0,
    max_body_bytes: Annotated[
        int, typer.Option(help="largest JSON request body (413 above; NDJSON batches stream)")
    ] = 1 << 20,
    max_batch_rows: Annotated[
        int, typer.Option(help="most rows one /predict/batch request may send")
    ] = 100_000,
    drain_timeout: Annotated[
        float, typer.Option(help="seconds SIGTERM waits for requests in progress")
    ] = 30.0,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert")
    ] = None,
    docs: Annotated[
        bool, typer.Option("--docs/--no-docs", help="serve /openapi.json and /docs")
    ] = True,
) -> None:
    """Serve models over HTTP: predictions, a web page at /, /metrics, /healthz, /readyz.

    Exit codes: 0 after SIGTERM/Ctrl-C (requests drained, prediction log flushed); 66 a
    model that does not exist; 69 the port is in use; 2 bad options; 65 a model that fails
    its integrity check.
    """
    from pydantic import ValidationError

    from lathe.errors import UsageError
    from lathe.serving.observability import configure_json_logging
    from lathe.serving.server import run_server
    from lathe.serving.settings import ServeSettings

    try:
        settings = ServeSettings(
            models=models,
            host=host,
            port=port,
            api_keys=api_keys,
            workers=workers,
            batching=batching,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            reload_interval_s=reload_every,
            prediction_log=prediction_log or None,
            mask_pii=mask_pii,
            store=store,
            experiments=experiments,
            experiments_missing_unit=missing_unit,
            experiments_interval_s=check_every,
            max_body_bytes=max_body_bytes,
            max_rows_batch_endpoint=max_batch_rows,
            drain_timeout_s=drain_timeout,
            tls_cert=tls_cert,
            tls_key=tls_key,
            docs=docs,
        )
    except ValidationError as error:
        raise UsageError(
            "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        ) from None
    configure_json_logging()
    if not settings.auth_enabled:
        typer.echo(
            f"warning: API keys are OFF; only clients on this machine can reach {host}:{port}",
            err=True,
        )
    # binds the port first, resolves every model, serves, drains on SIGTERM and returns
    run_server(settings)


def deploy(
    target: Annotated[str, typer.Argument(help="docker or k8s")],
    name: Annotated[
        str, typer.Argument(help="the model to serve: registry NAME[@ALIAS|:VERSION] or a path")
    ],
    out: Annotated[Path, typer.Option(help="directory to write the files into")] = Path("deploy"),
    image: Annotated[str | None, typer.Option(help="container image name")] = None,
    replicas: Annotated[int, typer.Option(help="minimum replicas (k8s)")] = 2,
    store: Annotated[str | None, typer.Option(
        help="shared registry URL (postgresql://...): the pod resolves NAME@champion from it "
        "and follows the alias, instead of the model being copied into the image")] = None,
    wheel: Annotated[Path | None, typer.Option(
        help="lathe wheel to install in the image (default: built from this lathe with "
        "pip wheel)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Write a build context that deploys NAME (model + lathe wheel + checked start-up), and
    for k8s its manifests, Secret templates, Prometheus rules and Grafana dashboard."""
    from lathe.serving.deploy import write_deploy

    result = write_deploy(target, name, out, image=image, replicas=replicas, store=store,
                          wheel=wheel)
    if as_json:
        from lathe.cli._output import emit_json

        emit_json(result)
        return
    from lathe.cli._output import console

    err = console()
    what = (f"{result['ref']} (sha256 {result['artifact_sha256'][:12]}…) copied into the image"
            if result["mode"] == "bundled" else
            f"{result['ref']} resolved from {store} at start-up, following the alias")
    err.print(f"[green]wrote[/] {len(result['files'])} files to [bold]{result['out']}[/]: "
              f"{what}", highlight=False)
    for key, command in result["commands"].items():
        err.print(f"  {key:<12} {command}", highlight=False, markup=False)
    err.print(f"see {result['out']}/README.md", highlight=False)
