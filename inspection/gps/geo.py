"""Small geo helpers shared by the sample generator, geofences and dispatch.

Points are ``(lat, lon)`` tuples in WGS84 degrees, matching the ``[lat, lon]`` vertices of the district
file. The polygon functions work in plain degree space: a street is a few kilometres across, where the
error of treating degrees as planar is far below GPS noise, and it keeps the maths obvious.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Point = tuple[float, float]

# Mean Earth radius (IUGG); the choice of radius matters less than the 0.5 % ellipsoid error of haversine.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # min() guards asin against a rounding overshoot past 1.0 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def point_in_polygon(lat: float, lon: float, polygon: Sequence[Point]) -> bool:
    """Whether ``(lat, lon)`` lies inside ``polygon`` (``[lat, lon]`` vertices, open or closed ring).

    Ray casting (even-odd rule), so concave polygons work. A point exactly on an edge may fall
    either side; callers that care should not put boundaries through points of interest.
    """
    inside = False
    n = len(polygon)
    if n < 3:
        return False
    j = n - 1
    for i in range(n):
        yi, xi = polygon[i]
        yj, xj = polygon[j]
        # Count edges that straddle the horizontal line through the point and cross it east of the point;
        # the half-open test (>) makes a vertex on that line count once, not twice.
        if (yi > lat) != (yj > lat):
            x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def polygon_area(polygon: Sequence[Point]) -> float:
    """Signed shoelace area in square degrees (positive when vertices run counter-clockwise in lon/lat)."""
    total = 0.0
    n = len(polygon)
    for i in range(n):
        y1, x1 = polygon[i]
        y2, x2 = polygon[(i + 1) % n]
        total += x1 * y2 - x2 * y1
    return total / 2


def polygon_centroid(polygon: Sequence[Point]) -> Point:
    """Area-weighted centroid ``(lat, lon)`` of a simple polygon.

    For a degenerate polygon (zero area, e.g. collinear vertices) the mean of the vertices is returned
    instead of dividing by zero. Note the centroid of a concave polygon may lie outside it.
    """
    if not polygon:
        raise ValueError("polygon has no vertices")
    # Shift to the first vertex so the products stay small and keep their precision.
    y0, x0 = polygon[0]
    area2 = cx = cy = 0.0
    n = len(polygon)
    for i in range(n):
        y1, x1 = polygon[i][0] - y0, polygon[i][1] - x0
        y2, x2 = polygon[(i + 1) % n][0] - y0, polygon[(i + 1) % n][1] - x0
        cross = x1 * y2 - x2 * y1
        area2 += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area2) < 1e-15:
        return (sum(p[0] for p in polygon) / n, sum(p[1] for p in polygon) / n)
    return (y0 + cy / (3 * area2), x0 + cx / (3 * area2))


def polygon_bbox(polygon: Sequence[Point]) -> tuple[float, float, float, float]:
    """``(min_lat, min_lon, max_lat, max_lon)`` of the polygon's vertices."""
    if not polygon:
        raise ValueError("polygon has no vertices")
    lats = [p[0] for p in polygon]
    lons = [p[1] for p in polygon]
    return min(lats), min(lons), max(lats), max(lons)


def random_point_in_polygon(
    rng: random.Random, polygon: Sequence[Point], *, max_tries: int = 10_000
) -> Point:
    """A uniformly distributed point inside ``polygon``, drawn with ``rng`` (rejection sampling in the bbox).

    Deterministic for a seeded ``rng``. Raises ``ValueError`` if ``max_tries`` draws all miss, which
    only happens for a degenerate or sliver polygon.
    """
    min_lat, min_lon, max_lat, max_lon = polygon_bbox(polygon)
    for _ in range(max_tries):
        lat = rng.uniform(min_lat, max_lat)
        lon = rng.uniform(min_lon, max_lon)
        if point_in_polygon(lat, lon, polygon):
            return (lat, lon)
    raise ValueError(f"no point inside the polygon after {max_tries} tries; is it degenerate?")
