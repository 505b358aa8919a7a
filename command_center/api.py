"""All routers of the server, and the operational endpoints (/healthz, /metrics)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from command_center import __version__, metrics
from command_center.alerts.views import router as alerts_router
from command_center.auth.views import router as auth_router
from command_center.cameras.views import router as cameras_router
from command_center.cases.views import router as cases_router
from command_center.database.core import ping
from command_center.deps import ContextDep
from command_center.detection.views import router as detection_router
from command_center.district.views import router as district_router
from command_center.live.views import router as live_router
from command_center.outbound.views import router as outbound_router
from command_center.recordings.views import router as recordings_router
from command_center.risk.views import router as risk_router
from command_center.stats.views import router as stats_router
from inspection.dispatch.views import router as dispatch_router
from inspection.gps.views import router as gps_router
from inspection.lab.views import router as lab_router
from inspection.tasks.views import router as tasks_router
from web_ui.pages import router as pages_router

ops = APIRouter(tags=["ops"])


@ops.get("/healthz")
async def healthz(ctx: ContextDep) -> JSONResponse:
    """200 when the database and the bus answer, 503 naming what does not."""
    database = await run_in_threadpool(ping, ctx.engine)
    bus = await ctx.bus.ping()
    body = {
        "status": "ok" if database and bus else "unavailable",
        "version": __version__,
        "database": "ok" if database else "down",
        "database_backend": ctx.engine.dialect.name,
        "bus": "ok" if bus else "down",
        "bus_backend": ctx.bus.name,
        "websocket_clients": ctx.hub.client_count,
    }
    return JSONResponse(body, status_code=200 if database and bus else 503)


@ops.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format."""
    return metrics.render()


def router() -> APIRouter:
    """The whole HTTP surface of the command center."""
    root = APIRouter()
    # First: /api/restaurants/ranking must not be taken for the restaurant id "ranking".
    root.include_router(risk_router)
    for part in (ops, auth_router, district_router, cameras_router, gps_router, live_router, pages_router):
        root.include_router(part)
    for part in (alerts_router, cases_router, stats_router, outbound_router, recordings_router):
        root.include_router(part)
    root.include_router(detection_router)
    for part in (lab_router, dispatch_router, tasks_router):
        root.include_router(part)
    return root
