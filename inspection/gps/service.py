"""Position service: check fixes against the known devices, store them, read tracks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from inspection.gps.models import Position
from inspection.gps.schemas import Fix, Rejected
from inspection.people.models import Inspector, Vehicle

# A phone's clock may run a little fast; anything further ahead is a broken clock, not a position.
MAX_FUTURE = timedelta(minutes=10)
# Phones upload what they buffered offline, but not fixes older than this.
MAX_AGE = timedelta(days=30)
ONLINE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class DeviceOwner:
    """Who carries a GPS device."""

    device_id: str
    kind: str  # "inspector" | "vehicle"
    owner_id: str
    street_id: str | None


def known_devices(session: Session) -> dict[str, DeviceOwner]:
    """Every registered device id with its owner."""
    owners = {
        i.device_id: DeviceOwner(i.device_id, "inspector", i.id, i.street_id)
        for i in session.scalars(select(Inspector))
    }
    for v in session.scalars(select(Vehicle)):
        owners[v.device_id] = DeviceOwner(v.device_id, "vehicle", v.id, None)
    return owners


def store_fixes(
    session: Session, fixes: Iterable[Fix], *, now: datetime | None = None
) -> tuple[list[tuple[Fix, DeviceOwner]], list[Rejected]]:
    """Store the fixes of known devices with plausible times; return the stored ones with their owners
    and the rejected ones with reasons. Unknown devices are never added silently."""
    current = now or datetime.now(UTC)
    devices = known_devices(session)
    stored: list[tuple[Fix, DeviceOwner]] = []
    rejected: list[Rejected] = []
    for index, fix in enumerate(fixes):
        owner = devices.get(fix.device_id)
        reason = None
        if owner is None:
            reason = f"unknown device {fix.device_id!r}: register it in the district config"
        elif fix.ts > current + MAX_FUTURE:
            reason = f"timestamp {fix.ts.isoformat()} is in the future"
        elif fix.ts < current - MAX_AGE:
            reason = f"timestamp {fix.ts.isoformat()} is older than {MAX_AGE.days} days"
        if reason is not None or owner is None:
            rejected.append(Rejected(index=index, device_id=fix.device_id, reason=reason or "rejected"))
            continue
        session.add(
            Position(
                device_id=fix.device_id,
                ts=fix.ts,
                lat=fix.lat,
                lon=fix.lon,
                speed_kmh=fix.speed_kmh,
                bearing=fix.bearing,
                altitude=fix.altitude,
                accuracy=fix.accuracy,
                battery=fix.battery,
                attributes=fix.attributes,
                received_at=current,
            )
        )
        stored.append((fix, owner))
    session.flush()
    return stored, rejected


def last_positions(session: Session, device_ids: Sequence[str]) -> dict[str, Position]:
    """The newest fix of each of ``device_ids`` that has one."""
    latest = (
        select(Position.device_id, func.max(Position.ts).label("ts"))
        .where(Position.device_id.in_(device_ids))
        .group_by(Position.device_id)
        .subquery()
    )
    rows = session.scalars(
        select(Position).join(
            latest, (Position.device_id == latest.c.device_id) & (Position.ts == latest.c.ts)
        )
    ).all()
    return {p.device_id: p for p in rows}


def is_online(position: Position | None, now: datetime) -> bool:
    """A device is online when its last fix is recent."""
    return position is not None and position.ts >= now - ONLINE_WINDOW


def list_inspectors(
    session: Session, *, principal: Principal, now: datetime | None = None
) -> list[tuple[Inspector, Position | None, bool]]:
    """Inspectors the caller may see, with their last fix and whether it is recent (online)."""
    current = now or datetime.now(UTC)
    inspectors = [
        i
        for i in session.scalars(select(Inspector).order_by(Inspector.id))
        if principal.can_see_street(i.street_id)
    ]
    last = last_positions(session, [i.device_id for i in inspectors])
    return [(i, last.get(i.device_id), is_online(last.get(i.device_id), current)) for i in inspectors]


def list_vehicles(
    session: Session, *, now: datetime | None = None
) -> list[tuple[Vehicle, Position | None, bool]]:
    """Test vehicles (district-wide: they serve every street) with their last fix."""
    current = now or datetime.now(UTC)
    vehicles = session.scalars(select(Vehicle).order_by(Vehicle.id)).all()
    last = last_positions(session, [v.device_id for v in vehicles])
    return [(v, last.get(v.device_id), is_online(last.get(v.device_id), current)) for v in vehicles]


def get_inspector(session: Session, *, principal: Principal, inspector_id: str) -> Inspector | None:
    """One inspector; None if unknown; OutOfScopeError for another street's supervisor."""
    inspector = session.get(Inspector, inspector_id)
    if inspector is not None:
        principal.require_street(inspector.street_id, f"inspector {inspector_id}")
    return inspector


def track(session: Session, *, device_id: str, since: datetime, until: datetime) -> Sequence[Position]:
    """A device's fixes in [since, until), oldest first (served by the (device_id, ts) index)."""
    return session.scalars(
        select(Position)
        .where(Position.device_id == device_id, Position.ts >= since, Position.ts < until)
        .order_by(Position.ts)
    ).all()
