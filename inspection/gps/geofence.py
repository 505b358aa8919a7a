"""Restaurant geofences: a circle (default 50 m) around each restaurant. Consecutive fixes of an
inspector's device entering and leaving a circle make a visit, the proof of a field inspection.

Visits are updated as fixes are stored: a fix inside a circle opens a visit (or extends the open one),
the first later fix outside closes it at the last fix seen inside. Fixes older than an open visit's last
one (a phone uploading its offline buffer late) do not reopen or move it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from command_center.auth.principal import Principal
from command_center.district.models import Restaurant
from inspection.gps.geo import haversine_m
from inspection.gps.models import Visit
from inspection.gps.schemas import Fix

log = logging.getLogger(__name__)

VISIT_RADIUS_M = 50.0


@dataclass(frozen=True)
class Fence:
    """A restaurant's circle."""

    restaurant_id: str
    street_id: str
    lat: float
    lon: float


def fences(session: Session) -> list[Fence]:
    """Every restaurant's fence."""
    rows = session.execute(select(Restaurant.id, Restaurant.street_id, Restaurant.lat, Restaurant.lon))
    return [Fence(*row) for row in rows]


def inside(fix: Fix, all_fences: Sequence[Fence], radius_m: float = VISIT_RADIUS_M) -> list[Fence]:
    """The fences containing ``fix`` (a cheap degree box first, then the great-circle distance)."""
    dlat = radius_m / 111_000
    dlon = dlat / max(math.cos(math.radians(fix.lat)), 0.01)
    return [
        f
        for f in all_fences
        if abs(f.lat - fix.lat) <= dlat
        and abs(f.lon - fix.lon) <= dlon
        and haversine_m(f.lat, f.lon, fix.lat, fix.lon) <= radius_m
    ]


class FenceIndex:
    """The fences in a grid of cells at least a radius wide, so that a fix is compared with the few
    fences of its own cell and the eight around it instead of every restaurant of the district."""

    def __init__(self, all_fences: Sequence[Fence], radius_m: float = VISIT_RADIUS_M) -> None:
        self.radius_m = radius_m
        # Cells at least a radius wide in metres both ways; a degree of longitude shrinks with the
        # cosine of the latitude, so the cells are sized for the fence furthest from the equator.
        widest = max((abs(f.lat) for f in all_fences), default=0.0) + 1.0
        self._dlat = radius_m / 111_000
        self._dlon = self._dlat / max(math.cos(math.radians(min(widest, 89.0))), 0.01)
        self._cells: dict[tuple[int, int], list[Fence]] = {}
        for fence in all_fences:
            self._cells.setdefault(self._key(fence.lat, fence.lon), []).append(fence)

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self._dlat), math.floor(lon / self._dlon)

    def inside(self, lat: float, lon: float) -> list[Fence]:
        """The fences containing the point, nearest cell first."""
        row, col = self._key(lat, lon)
        return [
            f
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            for f in self._cells.get((row + dr, col + dc), ())
            if haversine_m(f.lat, f.lon, lat, lon) <= self.radius_m
        ]


FENCES_TTL_S = 30.0
_indexes: weakref.WeakKeyDictionary[Engine, tuple[float, FenceIndex]] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def fence_index(session: Session) -> FenceIndex:
    """The fences of ``session``'s database, read at most every ``FENCES_TTL_S`` seconds: a restaurant
    added or moved (registry import, district sync) is fenced within that time."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    now = time.monotonic()
    with _indexes_lock:
        cached = _indexes.get(engine)
    if cached is not None and now - cached[0] < FENCES_TTL_S:
        return cached[1]
    index = FenceIndex(fences(session))
    with _indexes_lock:
        _indexes[engine] = (now, index)
    return index


def cached_fence_index(engine: Engine) -> FenceIndex | None:
    """The fences :func:`fence_index` read last for ``engine``, while fresh; None otherwise."""
    with _indexes_lock:
        cached = _indexes.get(engine)
    return cached[1] if cached is not None and time.monotonic() - cached[0] < FENCES_TTL_S else None


def forget_fences() -> None:
    """Drop the cached fences (after restaurants changed in this process)."""
    with _indexes_lock:
        _indexes.clear()


def update_visits(
    session: Session, *, fixes: Sequence[tuple[Fix, str]], radius_m: float = VISIT_RADIUS_M
) -> list[Visit]:
    """Open, extend and close the visits of stored ``(fix, inspector_id)`` pairs; returns the visits that
    were closed. Fixes are taken in time order per device."""
    if not fixes:
        return []
    index = fence_index(session) if radius_m == VISIT_RADIUS_M else FenceIndex(fences(session), radius_m)
    devices = sorted({fix.device_id for fix, _ in fixes})
    open_visits: dict[tuple[str, str], Visit] = {
        (v.device_id, v.restaurant_id): v
        for v in session.scalars(select(Visit).where(Visit.device_id.in_(devices), Visit.left_at.is_(None)))
    }
    closed: list[Visit] = []
    for fix, inspector_id in sorted(fixes, key=lambda pair: (pair[0].device_id, pair[0].ts)):
        here = {f.restaurant_id: f for f in index.inside(fix.lat, fix.lon)}
        for key, visit in list(open_visits.items()):
            if key[0] != fix.device_id or fix.ts <= visit.last_seen_at:
                continue
            if visit.restaurant_id in here:
                visit.last_seen_at = fix.ts
            else:
                visit.left_at = visit.last_seen_at
                closed.append(visit)
                del open_visits[key]
        for fence in here.values():
            if (fix.device_id, fence.restaurant_id) not in open_visits:
                visit = Visit(
                    device_id=fix.device_id,
                    inspector_id=inspector_id,
                    restaurant_id=fence.restaurant_id,
                    street_id=fence.street_id,
                    arrived_at=fix.ts,
                    last_seen_at=fix.ts,
                )
                session.add(visit)
                open_visits[(fix.device_id, fence.restaurant_id)] = visit
    session.flush()
    return closed


def list_visits(
    session: Session,
    *,
    principal: Principal,
    inspector_id: str | None = None,
    restaurant_id: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> Sequence[Visit]:
    """Visits the caller may see (a street supervisor: at their street's restaurants), newest first."""
    stmt = select(Visit).order_by(Visit.arrived_at.desc()).limit(limit)
    scope = principal.street_scope
    if scope is not None:
        stmt = stmt.where(Visit.street_id.in_(scope))
    if inspector_id is not None:
        stmt = stmt.where(Visit.inspector_id == inspector_id)
    if restaurant_id is not None:
        stmt = stmt.where(Visit.restaurant_id == restaurant_id)
    if since is not None:
        stmt = stmt.where(Visit.arrived_at >= since)
    return session.scalars(stmt).all()
