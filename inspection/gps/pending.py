"""Unknown devices held for approval (``MSCC_UNKNOWN_DEVICES=hold``, the default): a fix from an id that
is not registered is checked like any fix (valid, accurate), then kept with the device marked pending,
never added to a track. A district admin lists the pending devices with what they sent, and approves
one for an inspector or a vehicle (its held fixes are then replayed through the filter chain onto that
owner's track, and its later fixes count for that owner) or rejects it (its held fixes are deleted and
later ones refused). Bounded: at most :data:`MAX_PENDING` pending devices and :data:`MAX_HELD` held fixes
each, so a scanner inventing ids cannot fill the database.

An approved device reports *for* its owner: its fixes are stored under the owner's registered device
id, with the sending device in the fix's ``via`` attribute, so tracks, visits and dispatch see one
person (a replacement or second phone), and the district file stays the source of the registered ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from inspection.gps.models import HeldPosition, PendingDevice
from inspection.gps.schemas import Fix
from inspection.people.models import Inspector, Vehicle

log = logging.getLogger(__name__)

MAX_PENDING = 100
MAX_HELD = 5_000
HELD = Counter("mscc_positions_held_total", "GPS fixes of unknown devices held for approval")


class PendingError(ValueError):
    """The decision cannot be made: unknown device or owner, or decided already. Views: 404/409/422."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Refusal:
    """Why a fix of an unknown device was not held."""

    code: str
    message: str


def approved_aliases(session: Session) -> dict[str, tuple[str, str]]:
    """Approved device id -> (owner kind, owner id)."""
    rows = session.execute(
        select(PendingDevice.device_id, PendingDevice.owner_kind, PendingDevice.owner_id).where(
            PendingDevice.state == "approved"
        )
    )
    return {device: (str(kind), str(owner)) for device, kind, owner in rows}


def hold(session: Session, *, fix: Fix, now: datetime) -> Refusal | None:
    """Keep ``fix`` of an unregistered device for approval; a :class:`Refusal` when it cannot be kept."""
    device = session.get(PendingDevice, fix.device_id)
    if device is None:
        pending = session.scalar(select(func.count()).where(PendingDevice.state == "pending")) or 0
        if pending >= MAX_PENDING:
            return Refusal(
                "unknown_device",
                f"unknown device {fix.device_id!r}: {pending} devices await approval already",
            )
        device = PendingDevice(
            device_id=fix.device_id, state="pending", first_seen_at=now, last_seen_at=now, held=0, overflow=0
        )
        session.add(device)
        session.flush()  # the batch's next fix of this device finds it
        log.warning("unknown GPS device %s held for approval", fix.device_id)
    if device.state == "rejected":
        return Refusal("unknown_device", f"device {fix.device_id!r} was rejected by {device.decided_by}")
    if device.held >= MAX_HELD:
        device.overflow += 1
        return Refusal(
            "unknown_device", f"device {fix.device_id!r} awaits approval with {MAX_HELD} fixes held already"
        )
    session.add(
        HeldPosition(
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
            received_at=now,
        )
    )
    device.held += 1
    device.last_seen_at = now
    device.last_lat, device.last_lon = fix.lat, fix.lon
    HELD.inc()
    return None


def list_devices(session: Session, *, state: str | None = "pending") -> Sequence[PendingDevice]:
    """Devices that reported unregistered, most recently seen first (``state=None``: all)."""
    stmt = select(PendingDevice).order_by(PendingDevice.last_seen_at.desc())
    if state is not None:
        stmt = stmt.where(PendingDevice.state == state)
    return session.scalars(stmt).all()


def _undecided(session: Session, device_id: str) -> PendingDevice:
    device = session.get(PendingDevice, device_id)
    if device is None:
        raise PendingError(f"no device {device_id!r} has reported unregistered", code=404)
    if device.state != "pending":
        raise PendingError(f"device {device_id} is {device.state} already (by {device.decided_by})", code=409)
    return device


def approve(
    session: Session,
    *,
    device_id: str,
    owner_kind: str,
    owner_id: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> tuple[PendingDevice, list[Fix]]:
    """Approve a pending device for an inspector or vehicle; returns it and its held fixes (oldest
    first, rewritten to report for the owner) for the caller to store through the filter chain."""
    device = _undecided(session, device_id)
    owner: Inspector | Vehicle | None = (
        session.get(Inspector, owner_id) if owner_kind == "inspector" else session.get(Vehicle, owner_id)
    )
    if owner is None:
        raise PendingError(f"{owner_kind}_id: no {owner_kind} {owner_id!r}", code=422)
    device.state, device.owner_kind, device.owner_id = "approved", owner_kind, owner_id
    device.decided_by, device.decided_at, device.note = actor, now, note
    held = session.scalars(
        select(HeldPosition).where(HeldPosition.device_id == device_id).order_by(HeldPosition.ts)
    ).all()
    fixes = [
        Fix(
            device_id=owner.device_id,
            ts=h.ts,
            lat=h.lat,
            lon=h.lon,
            speed_kmh=h.speed_kmh,
            bearing=h.bearing,
            altitude=h.altitude,
            accuracy=h.accuracy,
            battery=h.battery,
            attributes={**h.attributes, "via": device_id},
        )
        for h in held
    ]
    session.execute(delete(HeldPosition).where(HeldPosition.device_id == device_id))
    device.held = 0
    log.info(
        "GPS device %s approved for %s %s by %s (%s held fixes)",
        device_id,
        owner_kind,
        owner_id,
        actor,
        len(fixes),
    )
    return device, fixes


def reject(
    session: Session, *, device_id: str, actor: str, now: datetime, note: str | None = None
) -> PendingDevice:
    """Reject a pending device: its held fixes are deleted and later ones refused."""
    device = _undecided(session, device_id)
    dropped = session.execute(delete(HeldPosition).where(HeldPosition.device_id == device_id))
    device.state, device.decided_by, device.decided_at, device.note = "rejected", actor, now, note
    device.held = 0
    log.info(
        "GPS device %s rejected by %s (%s held fixes deleted)",
        device_id,
        actor,
        getattr(dropped, "rowcount", "?"),
    )
    return device
