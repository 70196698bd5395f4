"""`lathe stream MODEL --source URL --in Q --out Q`: score a message queue, losing nothing.

    lathe stream churn@champion --source amqp://guest:guest@127.0.0.1:5672/ \\
        --in scoring.in --out scoring.out --dead-letter scoring.dlq --batch 256 --max-wait-ms 20
    lathe stream churn@champion --source nats://127.0.0.1:4222 --in rows --out scores
    lathe stream churn --source redis://127.0.0.1:6379 --in rows --out scores --group lathe
    lathe stream churn --source kafka://broker:9092 --in rows --out scores --group lathe

FastStream and the drivers are imported inside the command, so `lathe --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lathe.cli._output import JsonFlag

__all__ = ["stream"]


def stream(
    model: Annotated[str, typer.Argument(
        help="artifact dir or registry ref: NAME, NAME@ALIAS (followed), NAME:VERSION")],
    source: Annotated[str, typer.Option(
        "--source", help="broker URL: amqp://, nats://, redis:// or kafka://")],
    inbox: Annotated[str, typer.Option("--in", help="queue / subject / stream / topic to read")],
    outbox: Annotated[str, typer.Option("--out", help="where the outputs are published")],
    dead_letter: Annotated[str, typer.Option(
        "--dead-letter", help="where bad messages go with their error (default: IN.dlq)")] = "",
    batch: Annotated[int, typer.Option(help="most messages in one model call")] = 256,
    max_wait_ms: Annotated[float, typer.Option(
        help="most time a batch waits to fill after its first message")] = 20.0,
    prefetch: Annotated[int, typer.Option(
        help="most unacknowledged messages held (back-pressure; 0 = 4 x --batch)")] = 0,
    group: Annotated[str, typer.Option(
        help="consumer group (Kafka, Redis) or durable consumer (NATS)")] = "lathe",
    per_message: Annotated[bool, typer.Option(
        "--per-message", help="one output message per input (default: one JSON array per "
        "batch)")] = False,
    reload_every: Annotated[float, typer.Option(
        help="seconds between checks for a moved alias (0 = never)")] = 5.0,
    store: Annotated[str | None, typer.Option(help="registry URL (default LATHE_STORE)")] = None,
    prediction_log: Annotated[str, typer.Option(
        help="SQLAlchemy URL of a prediction log, as lathe serve writes ('' = off)")] = "",
    metrics_port: Annotated[int, typer.Option(
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics (0 = off)")] = 0,
    give_up_after: Annotated[float, typer.Option(
        help="seconds to keep retrying a broker that does not answer, then exit 69 "
        "(0 = retry forever)")] = 0.0,
    idle_exit: Annotated[float, typer.Option(
        help="stop after this many seconds without a message (0 = run until SIGTERM)")] = 0.0,
    reclaim_after_ms: Annotated[int, typer.Option(
        help="NATS, Redis: deliver again a message left unacknowledged this long (a crashed "
        "consumer's)")] = 30_000,
    as_json: JsonFlag = False,
) -> None:
    """Score messages from a queue and publish the predictions: at-least-once (a message is
    acked only after its output is published), outputs carry the row ids, bad messages go to
    the dead-letter queue with the reason. SIGTERM finishes the batches in progress.

    Exit codes: 0 after SIGTERM/Ctrl-C or --idle-exit; 69 the broker did not answer within
    --give-up-after; 66 no such model; 2 bad options.
    """
    from lathe.cli._output import console, emit_json
    from lathe.streams.consumer import StreamSettings, run_stream

    settings = StreamSettings(
        model=model, source=source, inbox=inbox, outbox=outbox, dead_letter=dead_letter,
        batch=batch, max_wait_ms=max_wait_ms, prefetch=prefetch, group=group,
        per_message=per_message, reload_every=reload_every, store=store,
        prediction_log=prediction_log or None, metrics_port=metrics_port or None,
        give_up_after=give_up_after, idle_exit=idle_exit, reclaim_after_ms=reclaim_after_ms)
    from lathe.streams._transport import parse_source

    parse_source(source)  # a bad scheme is a usage error before the model loads
    err = console()
    summary = run_stream(settings, say=lambda line: err.print(line, highlight=False,
                                                              markup=False))
    if as_json:
        emit_json(summary)
        return
    err.print(f"{summary['messages']:,} messages ({summary['rows']:,} rows) scored, "
              f"{summary['dead_letters']:,} dead-lettered, in {summary['batches']:,} batches",
              highlight=False)
