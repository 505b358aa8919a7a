"""The app factory. Start-up reads as a list of steps, in the order they happen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from command_center import __version__, api, consumers, metrics
from command_center.auth.principal import OutOfScopeError
from command_center.cases import flows as case_flows
from command_center.context import AppContext
from command_center.database.core import make_engine, make_session_factory, redact_url, transaction
from command_center.database.migrate import require_head, upgrade
from command_center.district.service import sync_district
from command_center.events.bus import EventBus
from command_center.events.factory import make_bus
from command_center.live.hub import LiveHub
from command_center.outbound import flows as outbound
from config.district import District
from config.settings import Settings
from inspection.gps import flows as gps_flows
from inspection.gps.ingest import PositionWriter

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    district: District | None = None,
    migrate: bool = False,
    bus: EventBus | None = None,
) -> FastAPI:
    """Build the command-center app. Fails fast (before serving) on a bad secret, an unmigrated
    database or a config that cannot be mirrored; the bus connects when the app starts."""
    # 1. Secrets: a placeholder MSCC_SECRET_KEY is refused outside the demo.
    secret = settings.checked_secret()
    # 2. Database: migrate (demo, tests) or insist that `mscc db upgrade` has been run.
    engine = make_engine(settings.effective_database_url)
    log.info("database %s", redact_url(settings.effective_database_url))
    if migrate:
        upgrade(engine)
    else:
        require_head(engine)
    sessions = make_session_factory(engine)
    # 3. District config mirrored into the database, in one transaction.
    if district is not None:
        with transaction(sessions) as session:
            sync_district(session, district)
    # 4. Event bus and its consumers, registered in one place.
    ctx = AppContext(
        settings=settings,
        secret=secret,
        engine=engine,
        sessions=sessions,
        bus=bus or make_bus(settings.redis_url, stream=settings.event_stream),
        hub=LiveHub(),
        district=district,
    )
    consumers.register(ctx)
    positions = ctx.positions = PositionWriter(ctx)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ctx.bus.start()
        log.info("event bus %s started", ctx.bus.name)
        await positions.start()
        # Periodic jobs: recording retention, case escalation, events out, positions storage upkeep
        # (further jobs join this list).
        stop_jobs = asyncio.Event()
        recordings = ctx.recordings
        assert recordings is not None  # consumers.register set it
        jobs = [
            asyncio.create_task(recordings.retention_loop(stop_jobs)),
            asyncio.create_task(case_flows.escalation_job(ctx, stop_jobs)),
            asyncio.create_task(outbound.run(ctx, stop_jobs)),
            asyncio.create_task(gps_flows.storage_job(ctx, stop_jobs)),
        ]
        try:
            yield
        finally:
            stop_jobs.set()
            await asyncio.gather(*jobs, return_exceptions=True)
            await positions.stop()
            await recordings.close()
            await ctx.bus.close()
            engine.dispose()

    # 5. HTTP: the app, its metrics and its routes.
    app = FastAPI(title="mscc command center", version=__version__, lifespan=lifespan)
    app.state.ctx = ctx
    metrics.install(app)
    _install_error_handlers(app)
    app.include_router(api.router())
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every 4xx carries a readable ``detail`` message, validation errors included. Services raise
    OutOfScopeError for another street's data; it is a 403 wherever it is raised, so views need not
    repeat the mapping."""

    @app.exception_handler(OutOfScopeError)
    async def _out_of_scope(_: Request, exc: OutOfScopeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'request'}: {err.get('msg')}"
            for err in exc.errors()[:20]
        ]
        return JSONResponse({"detail": "; ".join(problems), "errors": problems}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
