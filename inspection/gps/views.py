"""HTTP views of positions: the OsmAnd endpoint for phones, the JSON batch endpoint, inspectors, tracks."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from command_center.auth.principal import Principal
from command_center.context import AppContext
from command_center.deps import ContextDep, PrincipalDep, SessionDep, require_roles
from command_center.district.models import Restaurant
from config.clock import as_utc_or_none
from inspection.gps import geofence, pending, service, tracks
from inspection.gps.filters import SOFT_REASONS
from inspection.gps.flows import publish_positions
from inspection.gps.ingest import PositionWriter
from inspection.gps.osmand import OsmAndError, parse_osmand
from inspection.gps.schemas import (
    ApprovedOut,
    ApproveIn,
    BatchIn,
    BatchResult,
    Fix,
    InspectorOut,
    PendingDeviceOut,
    PositionOut,
    RejectIn,
    StopOut,
    TrackOut,
    TripOut,
    VehicleOut,
    VisitOut,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["positions"])

MAX_TRACK_SPAN = timedelta(days=7)
# One validator for a whole track (2.5x faster than a model_validate per point on a 17,280-point day).
_TRACK_POINTS = TypeAdapter(list[PositionOut])
_MAX_OSMAND_BODY = 16 * 1024


async def _write(ctx: AppContext, fixes: list[Fix]) -> BatchResult:
    """Store fixes through the app's group-committing writer (alone when there is none)."""
    return await (ctx.positions or PositionWriter(ctx)).write(fixes)


@router.api_route("/osmand", methods=["GET", "POST"], response_class=PlainTextResponse)
async def osmand(request: Request) -> PlainTextResponse:
    """OsmAnd protocol (phone tracker apps): query string, form or JSON body; 200 on accept, else 400."""
    # Not through ContextDep: a plain-function dependency runs in the thread pool, a thread hop per
    # request that costs as much as the rest of this view.
    ctx: AppContext = request.app.state.ctx
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        body = await request.body()
        if len(body) > _MAX_OSMAND_BODY:
            return PlainTextResponse("request body too large for one position", status.HTTP_400_BAD_REQUEST)
        params.update(_body_params(request.headers.get("content-type", ""), body))
    try:
        fix = parse_osmand(params)
    except OsmAndError as exc:
        return PlainTextResponse(str(exc), status.HTTP_400_BAD_REQUEST)
    result = await _write(ctx, [fix])
    if result.held:
        # Kept, not lost: a 200 stops the phone resending it while an admin decides.
        return PlainTextResponse(f"OK (held: {result.held[0].reason})")
    if result.rejected:
        dropped = result.rejected[0]
        if dropped.code in SOFT_REASONS:
            # Not the phone's fault: a 200 stops it resending the same fix for ever.
            return PlainTextResponse(f"OK (filtered: {dropped.code})")
        return PlainTextResponse(dropped.reason, status.HTTP_400_BAD_REQUEST)
    return PlainTextResponse("OK")


def _body_params(content_type: str, body: bytes) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        # Traccar Client's JSON mode nests the fix under "location".
        if isinstance(data, dict) and isinstance(data.get("location"), dict):
            loc = data["location"]
            coords = loc.get("coords", {})
            flat = {"id": data.get("device_id"), "timestamp": loc.get("timestamp"), **coords}
            if "latitude" in coords:
                flat["lat"], flat["lon"] = coords["latitude"], coords.get("longitude")
            if "battery" in loc and isinstance(loc["battery"], dict) and "level" in loc["battery"]:
                flat["batt"] = float(loc["battery"]["level"]) * 100
            return {k: v for k, v in flat.items() if k not in {"latitude", "longitude"} and v is not None}
        return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(text, keep_blank_values=True))


_Writer = Annotated[Principal, Depends(require_roles("district_admin", "street_supervisor", "inspector"))]


@router.post("/api/positions")
async def post_positions(batch: BatchIn, ctx: ContextDep, principal: _Writer) -> BatchResult:
    """Store a batch of fixes; each rejected fix is reported with its index and reason."""
    result = await _write(ctx, batch.positions)
    if result.rejected:
        log.info("%s rejected %s of %s fixes", principal.username, len(result.rejected), len(batch.positions))
    return result


@router.get("/api/inspectors")
def list_inspectors(session: SessionDep, principal: PrincipalDep) -> list[InspectorOut]:
    """Inspectors the caller may see, with their last position and whether they are reporting."""
    return [
        InspectorOut(
            id=i.id,
            name=i.name,
            street_id=i.street_id,
            device_id=i.device_id,
            online=online,
            last=PositionOut.model_validate(p) if p is not None else None,
        )
        for i, p, online in service.list_inspectors(session, principal=principal)
    ]


@router.get("/api/vehicles")
def list_vehicles(session: SessionDep, principal: PrincipalDep) -> list[VehicleOut]:
    """The food-testing vehicles with their last position (every role: they serve all streets)."""
    return [
        VehicleOut(
            id=v.id,
            name=v.name,
            device_id=v.device_id,
            online=online,
            last=PositionOut.model_validate(p) if p is not None else None,
        )
        for v, p, online in service.list_vehicles(session)
    ]


@router.get("/api/inspectors/{inspector_id}/track")
def inspector_track(
    inspector_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; default 24 h before until")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; default now")] = None,
) -> TrackOut:
    """An inspector's track between ``since`` and ``until`` (at most 7 days)."""
    end = as_utc_or_none(until) or datetime.now(UTC)
    start = as_utc_or_none(since) or end - timedelta(hours=24)
    if start >= end:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "since must be before until")
    if end - start > MAX_TRACK_SPAN:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"range longer than {MAX_TRACK_SPAN.days} days")
    inspector = service.get_inspector(session, principal=principal, inspector_id=inspector_id)
    if inspector is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no inspector {inspector_id!r}")
    points = service.track(session, device_id=inspector.device_id, since=start, until=end)
    spans = tracks.stop_spans(points)
    return TrackOut(
        inspector_id=inspector.id,
        device_id=inspector.device_id,
        since=start,
        until=end,
        points=_TRACK_POINTS.validate_python(points, from_attributes=True),
        distance_m=tracks.distance_m(points),
        stops=[StopOut(**asdict(s), duration_s=s.duration_s) for s in tracks.stops(points, spans)],
        trips=[TripOut(**asdict(t), duration_s=t.duration_s) for t in tracks.trips(points, spans)],
        polyline=tracks.simplify(points),
    )


@router.get("/api/inspectors/{inspector_id}/visits")
def inspector_visits(
    inspector_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; arrivals from then on")] = None,
) -> list[VisitOut]:
    """An inspector's geofence visits, newest first (a street supervisor: at their street's restaurants)."""
    inspector = service.get_inspector(session, principal=principal, inspector_id=inspector_id)
    if inspector is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no inspector {inspector_id!r}")
    rows = geofence.list_visits(
        session, principal=principal, inspector_id=inspector.id, since=as_utc_or_none(since)
    )
    return [VisitOut.model_validate(v) for v in rows]


@router.get("/api/restaurants/{restaurant_id}/visits")
def restaurant_visits(
    restaurant_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; arrivals from then on")] = None,
) -> list[VisitOut]:
    """Inspectors' visits at one restaurant, newest first: the proof behind a field re-inspection."""
    restaurant = session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no restaurant {restaurant_id!r}")
    if not principal.can_see_street(restaurant.street_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"restaurant {restaurant_id} is outside your street")
    rows = geofence.list_visits(
        session, principal=principal, restaurant_id=restaurant_id, since=as_utc_or_none(since)
    )
    return [VisitOut.model_validate(v) for v in rows]


_Admin = Annotated[Principal, Depends(require_roles("district_admin"))]


@router.get("/api/devices/pending")
def pending_devices(
    session: SessionDep,
    _: _Admin,
    state: Annotated[
        Literal["pending", "approved", "rejected", "all"], Query(description="which decisions to list")
    ] = "pending",
) -> list[PendingDeviceOut]:
    """Device ids that reported without being registered (district admins): their first and last
    report, how many fixes are held, where the last one was, and any decision."""
    rows = pending.list_devices(session, state=None if state == "all" else state)
    return [PendingDeviceOut.model_validate(d) for d in rows]


def _approve(
    ctx: AppContext, device_id: str, body: ApproveIn, actor: str
) -> tuple[PendingDeviceOut, list[tuple[Fix, service.DeviceOwner]], BatchResult]:
    now = datetime.now(UTC)
    with ctx.sessions() as session, session.begin():
        kind, owner = ("inspector", body.inspector_id) if body.inspector_id else ("vehicle", body.vehicle_id)
        device, fixes = pending.approve(
            session,
            device_id=device_id,
            owner_kind=kind,
            owner_id=str(owner),
            actor=actor,
            now=now,
            note=body.note,
        )
        out = service.store_fixes(session, fixes, now=now)
        return (
            PendingDeviceOut.model_validate(device),
            out.stored,
            BatchResult(accepted=len(out.stored), rejected=out.rejected),
        )


@router.post("/api/devices/pending/{device_id}/approve")
async def approve_device(device_id: str, body: ApproveIn, ctx: ContextDep, principal: _Admin) -> ApprovedOut:
    """Approve a pending device for an inspector or a vehicle: its held fixes are replayed through the
    filter chain onto the owner's track (the result says which were kept), and its later fixes count
    for that owner. 404 unknown device, 409 decided already, 422 unknown owner."""
    try:
        device, stored, replay = await run_in_threadpool(_approve, ctx, device_id, body, principal.username)
    except pending.PendingError as exc:
        raise HTTPException(exc.code, str(exc)) from exc
    await publish_positions(ctx.bus, stored)
    return ApprovedOut(device=device, replay=replay)


def _reject(ctx: AppContext, device_id: str, note: str | None, actor: str) -> PendingDeviceOut:
    with ctx.sessions() as session, session.begin():
        device = pending.reject(session, device_id=device_id, actor=actor, now=datetime.now(UTC), note=note)
        return PendingDeviceOut.model_validate(device)


@router.post("/api/devices/pending/{device_id}/reject")
async def reject_device(
    device_id: str, body: RejectIn, ctx: ContextDep, principal: _Admin
) -> PendingDeviceOut:
    """Reject a pending device: its held fixes are deleted and its later fixes refused with a 400."""
    try:
        return await run_in_threadpool(_reject, ctx, device_id, body.note, principal.username)
    except pending.PendingError as exc:
        raise HTTPException(exc.code, str(exc)) from exc
