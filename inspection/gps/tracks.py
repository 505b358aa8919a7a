"""Track analysis, pure: distance, stops, trips and a Douglas-Peucker simplified polyline for the map.

Works on any sequence of objects with ``ts``, ``lat`` and ``lon`` (stored positions, fixes), oldest
first. Distances are great-circle (haversine); the simplification projects to local metres
(equirectangular), which is exact enough over the few kilometres of a street.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from inspection.gps.geo import EARTH_RADIUS_M, haversine_m

STOP_RADIUS_M = 50.0
STOP_MIN_DURATION = timedelta(minutes=3)
POLYLINE_TOLERANCE_M = 5.0


class TrackPoint(Protocol):
    """What the analysis needs of a point."""

    @property
    def ts(self) -> datetime: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...


@dataclass(frozen=True)
class Stop:
    """The device stayed within the stop radius of ``(lat, lon)`` from ``start`` to ``end``."""

    start: datetime
    end: datetime
    lat: float
    lon: float
    points: int

    @property
    def duration_s(self) -> float:
        """Length of the stop in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Trip:
    """Movement between two stops (or the track's ends)."""

    start: datetime
    end: datetime
    distance_m: float
    points: int

    @property
    def duration_s(self) -> float:
        """Length of the trip in seconds."""
        return (self.end - self.start).total_seconds()


def distance_m(points: Sequence[TrackPoint]) -> float:
    """Length of the track in metres: the sum of great-circle legs between consecutive points."""
    if len(points) < 2:
        return 0.0
    return float(_legs_m(points).sum())


def _legs_m(points: Sequence[TrackPoint]) -> np.ndarray:
    """Great-circle length of each leg (haversine, vectorised: a day has 17,280 points)."""
    lat = np.radians(np.fromiter((p.lat for p in points), float, len(points)))
    lon = np.radians(np.fromiter((p.lon for p in points), float, len(points)))
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    legs: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return legs


def stop_spans(
    points: Sequence[TrackPoint],
    *,
    radius_m: float = STOP_RADIUS_M,
    min_duration: timedelta = STOP_MIN_DURATION,
) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` (inclusive) of stops: runs of points all within ``radius_m`` of
    the run's first point that last at least ``min_duration``."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(points)
    while i < n:
        anchor = points[i]
        j = i
        while j + 1 < n and _apart(anchor, points[j + 1]) <= radius_m:
            j += 1
        if points[j].ts - anchor.ts >= min_duration:
            spans.append((i, j))
            i = j + 1
        else:
            i += 1
    return spans


def stops(points: Sequence[TrackPoint], spans: Sequence[tuple[int, int]]) -> list[Stop]:
    """The stops of ``spans`` (from :func:`stop_spans`), located at the mean of their points."""
    result = []
    for first, last in spans:
        run = points[first : last + 1]
        result.append(
            Stop(
                start=run[0].ts,
                end=run[-1].ts,
                lat=sum(p.lat for p in run) / len(run),
                lon=sum(p.lon for p in run) / len(run),
                points=len(run),
            )
        )
    return result


def trips(points: Sequence[TrackPoint], spans: Sequence[tuple[int, int]]) -> list[Trip]:
    """The movements between the stop ``spans`` (and before the first / after the last one): each runs
    from the last point of one stop to the first point of the next, and must cover some distance."""
    bounds: list[tuple[int, int]] = []
    cursor = 0
    for first, last in spans:
        if first > cursor:
            bounds.append((cursor, first))
        cursor = last
    if cursor < len(points) - 1:
        bounds.append((cursor, len(points) - 1))
    result = []
    for a, b in bounds:
        leg = points[a : b + 1]
        metres = distance_m(leg)
        if len(leg) >= 2 and metres > 0:
            result.append(Trip(start=leg[0].ts, end=leg[-1].ts, distance_m=metres, points=len(leg)))
    return result


def _apart(a: TrackPoint, b: TrackPoint) -> float:
    return haversine_m(a.lat, a.lon, b.lat, b.lon)


def simplify(
    points: Sequence[TrackPoint], *, tolerance_m: float = POLYLINE_TOLERANCE_M
) -> list[tuple[float, float]]:
    """Douglas-Peucker: the fewest ``(lat, lon)`` vertices that keep the track within ``tolerance_m``."""
    if len(points) <= 2:
        return [(p.lat, p.lon) for p in points]
    lat = np.fromiter((p.lat for p in points), float, len(points))
    lon = np.fromiter((p.lon for p in points), float, len(points))
    scale = math.pi / 180 * EARTH_RADIUS_M
    x, y = lon * scale * math.cos(math.radians(float(lat.mean()))), lat * scale
    keep = np.zeros(len(points), dtype=bool)
    keep[0] = keep[-1] = True
    # An explicit stack instead of recursion, each span's distances computed at once: a day's track has
    # 17,280 points.
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        d = _segment_distances(x[first + 1 : last], y[first + 1 : last], x[first], y[first], x[last], y[last])
        worst = int(np.argmax(d))
        if d[worst] > tolerance_m:
            worst += first + 1
            keep[worst] = True
            stack.extend(((first, worst), (worst, last)))
    return [(points[k].lat, points[k].lon) for k in np.flatnonzero(keep).tolist()]


def _segment_distances(
    px: np.ndarray, py: np.ndarray, ax: float, ay: float, bx: float, by: float
) -> np.ndarray:
    """Distance of each point ``(px, py)`` from the segment ``a``-``b`` (planar metres)."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    # A closed loop (a == b): the distance from a.
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0) if length2 else np.zeros_like(px)
    distances: np.ndarray = np.hypot(px - ax - t * dx, py - ay - t * dy)
    return distances
