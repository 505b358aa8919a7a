"""HTTP views of alerts: scoped lists, one alert, and manual alerts entering the pipeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from command_center.alerts import flows, service
from command_center.alerts.schemas import AlertOut, ManualAlertAccepted, ManualAlertIn
from command_center.auth.principal import Principal
from command_center.context import AppContext
from command_center.deps import ContextDep, PrincipalDep, SessionDep, require_roles
from command_center.events.bus import BusUnavailable

router = APIRouter(tags=["alerts"])

Reporter = Annotated[Principal, Depends(require_roles("district_admin", "street_supervisor"))]


@router.get("/api/alerts")
def list_alerts(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    street: Annotated[str | None, Query(description="only this street")] = None,
    violation: Annotated[str | None, Query(description="e.g. no_mask, rodent, camera_offline")] = None,
    since: Annotated[AwareDatetime | None, Query(description="observed at or after (ISO 8601)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="observed before (ISO 8601)")] = None,
    status_: Annotated[
        str | None, Query(alias="status", description="case state, `open` or `unattached`")
    ] = None,
    restaurant: Annotated[str | None, Query()] = None,
    camera: Annotated[str | None, Query()] = None,
    event_id: Annotated[str | None, Query(description="the alert of this event id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AlertOut]:
    """Alerts the caller may see, newest first; the total is in the ``X-Total-Count`` header."""
    page, total = service.list_alerts(
        session,
        principal=principal,
        street_id=street,
        violation=violation,
        since=since,
        until=until,
        status=status_,
        restaurant_id=restaurant,
        camera_id=camera,
        event_id=event_id,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return page


@router.get("/api/alerts/{alert_id}")
def get_alert(alert_id: int, session: SessionDep, principal: PrincipalDep) -> AlertOut:
    """One alert; 403 outside the caller's street, 404 if unknown."""
    alert = service.get_alert(session, principal=principal, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return alert


@router.post(
    "/api/alerts", status_code=status.HTTP_202_ACCEPTED, responses={202: {"model": ManualAlertAccepted}}
)
async def report_alert(body: ManualAlertIn, ctx: ContextDep, principal: Reporter) -> JSONResponse:
    """A manual alert (hotline call, walk-in complaint): published on the bus like a detected one and
    stored by the same consumer. 202 with its event id, and its alert and case ids once stored."""
    street_id = await run_in_threadpool(_street_of, ctx, body.restaurant_id)
    if street_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"restaurant_id: no restaurant {body.restaurant_id!r}"
        )
    principal.require_street(street_id, f"restaurant {body.restaurant_id}")
    try:
        accepted = await flows.submit_manual(
            ctx,
            principal=principal,
            restaurant_id=body.restaurant_id,
            street_id=street_id,
            violation=body.violation,
            note=body.note,
        )
    except BusUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"alert not accepted: {exc}") from exc
    return JSONResponse(
        accepted.model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/alerts?event_id={accepted.id}"},
    )


def _street_of(ctx: AppContext, restaurant_id: str) -> str | None:
    with ctx.sessions() as session:
        restaurant = service.find_restaurant(session, restaurant_id=restaurant_id)
        return restaurant.street_id if restaurant else None
