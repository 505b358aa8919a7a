"""Dispatch service: rank a street's inspectors by great-circle distance from their last fix to the
case's restaurant. Great-circle, not road distance: within one street the two rank alike, and it needs
no road graph. Inspectors whose device has not reported for ``offline_after`` are not proposed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from command_center.cases import service as cases
from command_center.district.models import Restaurant
from inspection.dispatch.schemas import Candidate, DispatchOut, OfflineInspector
from inspection.gps.geo import haversine_m
from inspection.gps.service import last_positions
from inspection.people.models import Inspector

DEFAULT_OFFLINE_AFTER = timedelta(minutes=10)


def propose(
    session: Session,
    *,
    principal: Principal,
    case_id: int,
    now: datetime,
    offline_after: timedelta = DEFAULT_OFFLINE_AFTER,
    limit: int = 5,
) -> DispatchOut | None:
    """The nearest available inspectors of the case's street; None if the case or its restaurant is
    unknown. Raises OutOfScopeError when the caller may not see the case."""
    case = cases.get_case(session, principal=principal, case_id=case_id)
    if case is None:
        return None
    restaurant = session.get(Restaurant, case.restaurant_id)
    if restaurant is None:
        return None
    inspectors = session.scalars(
        select(Inspector).where(Inspector.street_id == case.street_id).order_by(Inspector.id)
    ).all()
    last = last_positions(session, [i.device_id for i in inspectors])
    candidates: list[Candidate] = []
    offline: list[OfflineInspector] = []
    for inspector in inspectors:
        fix = last.get(inspector.device_id)
        if fix is None or fix.ts < now - offline_after:
            offline.append(
                OfflineInspector(
                    inspector_id=inspector.id, name=inspector.name, last_fix_at=fix.ts if fix else None
                )
            )
            continue
        candidates.append(
            Candidate(
                inspector_id=inspector.id,
                name=inspector.name,
                device_id=inspector.device_id,
                distance_m=round(haversine_m(fix.lat, fix.lon, restaurant.lat, restaurant.lon), 1),
                last_fix_at=fix.ts,
                lat=fix.lat,
                lon=fix.lon,
            )
        )
    candidates.sort(key=lambda c: (c.distance_m, c.inspector_id))
    return DispatchOut(
        case_id=case.id,
        restaurant_id=restaurant.id,
        street_id=case.street_id,
        lat=restaurant.lat,
        lon=restaurant.lon,
        offline_after_s=int(offline_after.total_seconds()),
        candidates=candidates[:limit],
        offline=offline,
    )
