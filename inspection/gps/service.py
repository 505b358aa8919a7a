"""Position service: check fixes against the known devices, store them, read tracks."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, insert, select, union_all
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from config.clock import as_utc
from inspection.gps import geofence, pending
from inspection.gps.filters import UNKNOWN_DEVICE_CHAIN, FilterConfig, FilterState, LastPoint, run_chain
from inspection.gps.models import Position
from inspection.gps.schemas import Fix, Rejected
from inspection.people.models import Inspector, Vehicle

log = logging.getLogger(__name__)

ONLINE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class DeviceOwner:
    """Who carries a GPS device."""

    device_id: str
    kind: str  # "inspector" | "vehicle"
    owner_id: str
    street_id: str | None


def known_devices(session: Session) -> dict[str, DeviceOwner]:
    """Every registered device id with its owner, and every approved device with the owner it reports
    for (its ``device_id`` there is the owner's registered one: see :mod:`inspection.gps.pending`)."""
    owners = {
        i.device_id: DeviceOwner(i.device_id, "inspector", i.id, i.street_id)
        for i in session.scalars(select(Inspector))
    }
    by_owner = {("inspector", o.owner_id): o for o in owners.values()}
    for v in session.scalars(select(Vehicle)):
        owners[v.device_id] = DeviceOwner(v.device_id, "vehicle", v.id, None)
        by_owner[("vehicle", v.id)] = owners[v.device_id]
    for alias, owner_key in pending.approved_aliases(session).items():
        if alias not in owners and owner_key in by_owner:
            owners[alias] = by_owner[owner_key]
    return owners


@dataclass
class StoreOutcome:
    """What storing a batch did: the stored fixes with their owners, the refused ones and the ones held
    for approval (unknown devices), each with its index in the batch."""

    stored: list[tuple[Fix, DeviceOwner]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    held: list[Rejected] = field(default_factory=list)


def store_fixes(
    session: Session,
    fixes: Iterable[Fix],
    *,
    now: datetime | None = None,
    config: FilterConfig | None = None,
    hold_unknown: bool = False,
) -> StoreOutcome:
    """Pass each fix through the filter chain (:mod:`inspection.gps.filters`) and store the survivors.

    A fix of an approved device is stored for the owner it reports for. With ``hold_unknown`` a fix of
    an unregistered device that is valid and accurate is held for approval instead of refused.
    """
    batch = list(fixes)
    devices = known_devices(session)
    sent_by = [f.device_id for f in batch]
    # An approved device's fixes become its owner's, remembering which device sent them.
    batch = [
        f.model_copy(
            update={
                "device_id": devices[f.device_id].device_id,
                "attributes": {**f.attributes, "via": f.device_id},
            }
        )
        if f.device_id in devices and devices[f.device_id].device_id != f.device_id
        else f
        for f in batch
    ]
    state = _filter_state(session, batch, devices, now or datetime.now(UTC), config or FilterConfig())
    out = StoreOutcome()
    rows: list[dict[str, Any]] = []
    for index, fix in enumerate(batch):
        owner = devices.get(fix.device_id)
        if owner is None and hold_unknown:
            held, code, message = _hold(session, fix, state)
            (out.held if held else out.rejected).append(
                Rejected(index=index, device_id=fix.device_id, code=code, reason=message)
            )
            continue
        drop = run_chain(fix, state)
        if drop is not None or owner is None:
            reason, message = (drop.reason, drop.message) if drop else ("unknown_device", "unknown device")
            out.rejected.append(Rejected(index=index, device_id=sent_by[index], code=reason, reason=message))
            continue
        state.accept(fix)
        rows.append(
            {
                "device_id": fix.device_id,
                "ts": fix.ts,
                "lat": fix.lat,
                "lon": fix.lon,
                "speed_kmh": fix.speed_kmh,
                "bearing": fix.bearing,
                "altitude": fix.altitude,
                "accuracy": fix.accuracy,
                "battery": fix.battery,
                "attributes": fix.attributes,
                "received_at": state.now,
            }
        )
        out.stored.append((fix, owner))
    session.flush()
    if rows:
        # One multi-row INSERT; ORM objects would cost more than the rest of the chain per fix.
        session.execute(insert(Position), rows)
    _geofence(session, out.stored)
    return out


def _hold(session: Session, fix: Fix, state: FilterState) -> tuple[bool, str, str]:
    """Hold a fix of an unregistered device: (held, code, message)."""
    drop = run_chain(fix, state, UNKNOWN_DEVICE_CHAIN)
    if drop is not None:
        return False, drop.reason, drop.message
    refusal = pending.hold(session, fix=fix, now=state.now)
    if refusal is not None:
        return False, refusal.code, refusal.message
    return True, "held", f"device {fix.device_id!r} is not registered: held until an admin approves it"


def _geofence(session: Session, stored: list[tuple[Fix, DeviceOwner]]) -> None:
    """The geofence step after storing; its failure is logged and never loses the stored fixes."""
    mine = [(fix, owner.owner_id) for fix, owner in stored if owner.kind == "inspector"]
    if not mine:
        return
    try:
        with session.begin_nested():
            geofence.update_visits(session, fixes=mine)
    except Exception:
        log.exception("geofence step failed for %s fixes; positions kept, visits not updated", len(mine))


_LAST_POINT = (
    select(Position.ts, Position.lat, Position.lon)
    .where(Position.device_id == bindparam("device_id"))
    .order_by(Position.ts.desc(), Position.id.desc())
    .limit(1)
)


def _filter_state(
    session: Session, batch: list[Fix], devices: dict[str, DeviceOwner], now: datetime, config: FilterConfig
) -> FilterState:
    """The filters' view of the database: last stored point per device and the stored timestamps that a
    fix of this batch could duplicate (one range query per batch, served by the (device_id, ts) index)."""
    state = FilterState(now=now, config=config, known=frozenset(devices))
    ids = sorted({f.device_id for f in batch if f.device_id in devices})
    if not ids:
        return state
    for device_id in ids:
        # One small statement, built once and run per device: cheaper here than composing the UNION
        # of last_positions for every batch (SQLAlchemy would build and key a new statement each time).
        row = session.execute(_LAST_POINT, {"device_id": device_id}).first()
        if row is not None:
            state.last[device_id] = LastPoint(row.ts, row.lat, row.lon)
    low, high = min(f.ts for f in batch), max(f.ts for f in batch)
    rows = session.execute(
        select(Position.device_id, Position.ts).where(
            Position.device_id.in_(ids), Position.ts >= low, Position.ts <= high
        )
    )
    state.seen.update((device_id, as_utc(ts)) for device_id, ts in rows)
    return state


def last_positions(session: Session, device_ids: Sequence[str]) -> dict[str, Position]:
    """The newest fix of each of ``device_ids`` that has one.

    One ``ORDER BY ts DESC LIMIT 1`` per device, glued with UNION ALL: each is a descent of the
    ``(device_id, ts)`` index (on PostgreSQL, of the newest partition holding the device). A ``max(ts)
    ... GROUP BY device_id`` reads every fix of the devices instead: 2.7 to 7.5 s for 20 devices and
    30 M fixes (``bench/tracks.py``), for every inspector list and dispatch proposal.
    """
    found: dict[str, Position] = {}
    unique = sorted(set(device_ids))
    for first in range(0, len(unique), _LAST_CHUNK):
        newest = [
            select(Position)
            .where(Position.device_id == device_id)
            .order_by(Position.ts.desc(), Position.id.desc())
            .limit(1)
            .subquery()
            for device_id in unique[first : first + _LAST_CHUNK]
        ]
        statement = union_all(*(select(each) for each in newest))
        found.update((p.device_id, p) for p in session.scalars(select(Position).from_statement(statement)))
    return found


_LAST_CHUNK = 100


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


class TrackFix(NamedTuple):
    """A stored fix as a track shows it (what :class:`PositionOut` carries), without the ORM's cost:
    a day at 1 fix / 5 s is 17,280 of them."""

    device_id: str
    ts: datetime
    lat: float
    lon: float
    speed_kmh: float | None
    bearing: float | None
    accuracy: float | None
    battery: float | None


_TRACK_COLUMNS = (
    Position.device_id,
    Position.ts,
    Position.lat,
    Position.lon,
    Position.speed_kmh,
    Position.bearing,
    Position.accuracy,
    Position.battery,
)


def track_statement(
    *, device_id: str, since: datetime, until: datetime
) -> Select[str, datetime, float, float, float | None, float | None, float | None, float | None]:
    """The query of :func:`track`: only columns that the ``(device_id, ts)`` index carries on
    PostgreSQL, so that it is an index-only scan (migration 0009)."""
    return (
        select(*_TRACK_COLUMNS)
        .where(Position.device_id == device_id, Position.ts >= since, Position.ts < until)
        .order_by(Position.ts)
    )


def track(session: Session, *, device_id: str, since: datetime, until: datetime) -> list[TrackFix]:
    """A device's fixes in [since, until), oldest first (on PostgreSQL an index-only scan of the month
    partitions the range touches)."""
    rows = session.execute(track_statement(device_id=device_id, since=since, until=until))
    return [TrackFix(*row) for row in rows]
