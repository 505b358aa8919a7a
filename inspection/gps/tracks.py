"""Track analysis, pure: distance, stops, trips and a Douglas-Peucker simplified polyline for the map.

Works on any sequence of objects with ``ts``, ``lat`` and ``lon`` (stored positions, fixes), oldest
first. Distances are great-circle (haversine); the simplification projects to local metres
(equirectangular), which is exact enough over the few kilometres of a street.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

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
    return sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(points))


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
    lat0 = math.radians(sum(p.lat for p in points) / len(points))
    scale = math.pi / 180 * EARTH_RADIUS_M
    xy = [(p.lon * scale * math.cos(lat0), p.lat * scale) for p in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    # An explicit stack instead of recursion: a day's track has thousands of points.
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_d = -1, tolerance_m
        for k in range(first + 1, last):
            d = _segment_distance(xy[k], xy[first], xy[last])
            if d > worst_d:
                worst, worst_d = k, d
        if worst >= 0:
            keep[worst] = True
            stack.extend(((first, worst), (worst, last)))
    return [(p.lat, p.lon) for p, kept in zip(points, keep, strict=True) if kept]


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)
