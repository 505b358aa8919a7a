"""Serving the app over HTTP: the main port, and the optional second OsmAnd port (CONTRACT: "The same is
served on port 5055 when --osmand-port is given").

Phone tracker apps are usually pointed at a bare ``http://server:5055`` (Traccar's OsmAnd port) and send
``GET /?id=...``; the second listener answers that path and ``/osmand`` with the very handler of the
main port, on the same database and bus. It carries nothing else: no login, no API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from types import FrameType

import uvicorn
from fastapi import FastAPI

from command_center.context import AppContext
from inspection.gps.views import osmand

log = logging.getLogger(__name__)


class ListenError(RuntimeError):
    """A port cannot be listened on; the message names it."""


def osmand_app(ctx: AppContext) -> FastAPI:
    """An app that serves only the OsmAnd endpoint, on the running server's context."""
    app = FastAPI(title="mscc OsmAnd", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    for path in ("/", "/osmand"):
        app.add_api_route(path, osmand, methods=["GET", "POST"], name=f"osmand{path.strip('/')}")
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or :class:`ListenError` saying why not (bound before anything starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port} ({exc.strerror})") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Main(uvicorn.Server):
    """uvicorn re-raises the Ctrl-C it handled once it has stopped; here the caller stops on its own,
    closing the second listener first, and the command ends without a KeyboardInterrupt traceback."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class _Secondary(uvicorn.Server):
    """A server that leaves the signals to the main one and stops when told to."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class OsmAndListener:
    """The second OsmAnd port of a running server: ``start`` after the main server, ``stop`` before it."""

    def __init__(self, ctx: AppContext, *, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._socket = bind(host, port)
        config = uvicorn.Config(osmand_app(ctx), lifespan="off", log_level="warning", access_log=False)
        self._server = _Secondary(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve until :meth:`stop`."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started and not self._task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.02)
        if self._task.done():
            await self._task
        log.info("OsmAnd listener on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving and close the port."""
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._socket.close()


async def serve(app: FastAPI, *, host: str, port: int, osmand_port: int | None) -> None:
    """Serve ``app`` on ``host:port`` and, when given, the OsmAnd endpoint on ``osmand_port`` too, until
    the main server stops (Ctrl-C or SIGTERM)."""
    main_socket = bind(host, port)
    listener = OsmAndListener(app.state.ctx, host=host, port=osmand_port) if osmand_port else None
    server = _Main(uvicorn.Config(app, proxy_headers=True))
    serving = asyncio.create_task(server.serve(sockets=[main_socket]))
    try:
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if listener is not None and not serving.done():
            await listener.start()
        await serving
    finally:
        if listener is not None:
            await listener.stop()
        main_socket.close()
