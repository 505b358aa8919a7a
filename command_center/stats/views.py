"""HTTP views of the statistics: the overview as JSON and the alert trend as a PNG chart."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response

from command_center.cases.flows import now
from command_center.context import AppContext
from command_center.deps import ContextDep, PrincipalDep, SessionDep
from command_center.stats import service
from command_center.stats.chart import bar_chart_png
from command_center.stats.schemas import Overview

router = APIRouter(tags=["stats"])

Street = Annotated[str | None, Query(description="only this street")]


def _tz(ctx: AppContext) -> ZoneInfo:
    # Days are the district's days: an alert at 07:00 in Shenzhen is not "yesterday" in UTC terms.
    return ZoneInfo(ctx.district.timezone if ctx.district else "UTC")


@router.get("/api/stats/overview")
def overview(
    ctx: ContextDep,
    session: SessionDep,
    principal: PrincipalDep,
    street: Street = None,
    days: Annotated[int, Query(ge=1, le=366, description="period of the durations and rates")] = 30,
) -> Overview:
    """Open cases by street and type, time to confirm and close, overdue rectifications, per-camera
    false-alarm rates and alerts per day, for what the caller may see."""
    return service.overview(
        session, principal=principal, now=now(ctx), tz=_tz(ctx), street_id=street, days=days
    )


@router.get("/api/stats/alerts-per-day.png", response_class=Response)
def alerts_per_day_png(
    ctx: ContextDep, session: SessionDep, principal: PrincipalDep, street: Street = None
) -> Response:
    """The alerts of the last 14 days as a bar chart (PNG), for what the caller may see."""
    days = service.alerts_per_day(session, principal=principal, now=now(ctx), tz=_tz(ctx), street_id=street)
    scope = street or principal.street_id or "district"
    png = bar_chart_png(days, title=f"Alerts per day, last {len(days)} days ({scope})")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
