"""Running the app: bind the port first, check every model, serve, and drain on SIGTERM.

`run_server(settings)` is what `lathe serve` calls. Its promises:

* **Start-up fails in one line.** The port is bound before anything else, so a port in use
  is `PortInUse` (exit 69) before any model loads and before "ready" is logged; every model
  reference is resolved before serving, so an unknown model is `NotFound` (exit 66). A model
  that fails to load raises its own LatheError (with its exit code), never a traceback.
* **SIGTERM drains.** The server stops accepting (connections the kernel had already
  accepted are taken in first, so closing the listening socket resets nobody), answers every
  request already on an open connection with ``Connection: close``, gives idle keep-alive
  connections a moment to send one more request and then closes them politely (half-close,
  reading what the client still sends), waits for requests in progress, flushes the
  prediction log, and returns — the process exits 0.

``--workers N`` runs N processes under uvicorn's supervisor, which forwards SIGTERM; each
worker closes idle connections politely (the protocol above) but does not take in the
kernel's queue of accepted connections or add ``Connection: close``: the drain guarantees
are tested for one worker.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from lathe.errors import LatheError, UsageError
from lathe.serving.limits import DrainState
from lathe.serving.observability import LOGGER
from lathe.serving.settings import ServeSettings

__all__ = ["run_server", "bind_socket", "PortInUse", "DrainingServer", "DrainingH11Protocol"]

IDLE_GRACE_S = 0.5  # how long an idle keep-alive connection may still send a request
LINGER_S = 1.0  # after our FIN: read what the client still sends, then close
HEADER_TIMEOUT_S = 10.0  # from connecting (or a request's first byte) to its last header line
_TIMEOUT_BODY = (b'{"error": "RequestTimeout", "message": "the request headers did not '
                 b'arrive within 10 s", "hint": "send the request at once"}')
_REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class PortInUse(LatheError):
    """The address to listen on is taken (exit 69: unavailable)."""

    exit_code, http_status = 69, 503


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket, or one clear error (port in use, address not on this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is already in use",
                hint=f"stop the process listening there, or pass another --port (e.g. {port + 1})",
                host=host,
                port=port,
            ) from None
        raise UsageError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="pass --host with an address of this machine (127.0.0.1 by default)",
        ) from None
    sock.listen(backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


class DrainingH11Protocol(H11Protocol):  # type: ignore[misc]
    """uvicorn's HTTP/1.1 protocol, except that a graceful shutdown never resets an idle
    keep-alive connection a client may be sending on at that very moment."""

    _lingering = False
    _header_timer: asyncio.TimerHandle | None = None

    # ---- slow clients (slowloris): the headers of a request must arrive in time ----------
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_late)

    def _reading_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._reading_headers() and not self.transport.is_closing():
            LOGGER.warning("refused", extra={"status": 408, "client": (self.client or [None])[0],
                                             "reason": "request headers too slow"})
            self.transport.write(_REQUEST_TIMEOUT)
            self.transport.close()

    def _watch_headers(self) -> None:
        if not self._reading_headers():  # a request is being served: its headers arrived
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
        elif self._header_timer is None:  # the first bytes of the next request: from now
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # answered, with Connection: close, then closed
            return
        self._unset_keepalive_if_required()
        self.loop.call_later(IDLE_GRACE_S, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # our FIN; keep reading so nothing unread resets
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # sent after our FIN: read and dropped (closing unread would reset)
        super().data_received(data)
        self._watch_headers()

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()


class DrainingServer(uvicorn.Server):  # type: ignore[misc]
    def __init__(self, config: Any, drain: DrainState | None = None) -> None:
        super().__init__(config)
        self.drain = drain

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn re-raises a caught SIGTERM after serving; with the default handler that
        # would kill the process (exit 143) after a clean drain. Exit 0 instead.
        previous = signal.signal(signal.SIGTERM, lambda *_: None)
        try:
            super().run(sockets=sockets)
        finally:
            signal.signal(signal.SIGTERM, previous)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        drain = self.drain or _find_drain(self.config.loaded_app)
        if drain is not None:
            drain.draining = True
        LOGGER.info("draining: SIGTERM received; answering open connections, then exit")
        for sock in sockets or []:
            await self._adopt_backlog(sock)
        await super().shutdown(sockets=sockets)

    async def _adopt_backlog(self, sock: socket.socket) -> None:
        """Accept what the kernel already accepted: closing the listening socket would
        reset those connections (the client sees ECONNRESET on a request it sent)."""
        loop = asyncio.get_running_loop()
        config = self.config
        accepted = []
        while True:  # no await inside: nothing else can accept meanwhile
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            conn.setblocking(False)
            accepted.append(conn)
        for conn in accepted:
            await loop.connect_accepted_socket(
                lambda: config.http_protocol_class(  # type: ignore[call-arg]
                    config=config,
                    server_state=self.server_state,
                    app_state=self.lifespan.state,
                ),
                conn,
            )
        if accepted:
            LOGGER.info("draining: took in %d connection(s) already queued", len(accepted))


def _find_drain(app: Any) -> DrainState | None:
    """The app's DrainState under uvicorn's wrappers (a worker built the app itself)."""
    for _ in range(10):
        drain = getattr(getattr(app, "state", None), "drain", None)
        if isinstance(drain, DrainState):
            return drain
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def _quiet_lifespan_errors(app: Any) -> logging.Filter:
    """uvicorn logs a failed start-up as a traceback; ours is re-raised as one line."""

    class Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return getattr(app.state, "startup_error", None) is None

    return Quiet()


def _config(app: Any, settings: ServeSettings, log_level: str, **extra: Any) -> Any:
    if settings.tls:
        extra.update(ssl_certfile=str(settings.tls_cert), ssl_keyfile=str(settings.tls_key))
    return uvicorn.Config(
        app,
        http=DrainingH11Protocol,
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=log_level,
        timeout_graceful_shutdown=int(settings.drain_timeout_s),
        **extra,
    )


def run_server(settings: ServeSettings, *, log_level: str = "info") -> None:
    """Serve until SIGTERM/SIGINT; return normally after a graceful drain."""
    from lathe.serving.hardening import check_tls

    check_tls(settings.tls_cert, settings.tls_key)  # a bad cert: one line, before binding
    sock = bind_socket(settings.host, settings.port)
    try:
        if settings.workers > 1:
            _run_workers(settings, sock, log_level)
        else:
            _run_one(settings, sock, log_level)
    finally:
        sock.close()


def _run_one(settings: ServeSettings, sock: socket.socket, log_level: str) -> None:
    from lathe.serving.app import create_app

    app = create_app(settings)
    for slot in app.state.hub.slots.values():
        slot.source.resolve()  # an unknown model: NotFound now, not a traceback later
    server = DrainingServer(_config(app, settings, log_level), app.state.drain)
    quiet = _quiet_lifespan_errors(app)
    uvicorn_logger = logging.getLogger("uvicorn.error")
    uvicorn_logger.addFilter(quiet)
    try:
        server.run(sockets=[sock])
    except SystemExit:
        if app.state.startup_error is not None:
            raise app.state.startup_error from None
        raise
    finally:
        uvicorn_logger.removeFilter(quiet)
    if app.state.startup_error is not None:
        raise app.state.startup_error


def _run_workers(settings: ServeSettings, sock: socket.socket, log_level: str) -> None:
    """N processes on one socket (uvicorn's supervisor); each builds its app from the env."""
    import os

    from uvicorn.supervisors import Multiprocess

    from lathe.serving.app import SETTINGS_ENV
    from lathe.serving.sources import source_for

    for ref in settings.models:
        source_for(ref, settings.store).resolve()
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    config = _config(
        "lathe.serving.app:app_from_env", settings, log_level, factory=True,
        workers=settings.workers,
    )  # fmt: skip
    Multiprocess(config, sockets=[sock]).run()
