"""Trips, stops, distance and the simplified polyline on a synthetic track; the filter chain's steps."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from inspection.gps import filters, tracks
from inspection.gps.geo import haversine_m
from inspection.gps.schemas import Fix

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
# About 1.11 m per 1e-5 degree of latitude.
LAT0, LON0 = 22.58, 114.27


@dataclass(frozen=True)
class P:
    ts: datetime
    lat: float
    lon: float


def _synthetic() -> list[P]:
    """Parked 5 min, drive ~1.1 km north in 2 min, parked 4 min, drive 2 min east, brief halt 1 min."""
    points: list[P] = []
    t = T0
    for k in range(11):  # stop 1: 5 min, jitter of a few metres
        points.append(P(t, LAT0 + (k % 3) * 1e-5, LON0))
        t += timedelta(seconds=30)
    for k in range(1, 9):  # trip 1: 8 legs of ~139 m
        points.append(P(t, LAT0 + k * 1.25e-3, LON0))
        t += timedelta(seconds=15)
    north = LAT0 + 8 * 1.25e-3
    for k in range(9):  # stop 2: 4 min
        points.append(P(t, north, LON0 + (k % 2) * 1e-5))
        t += timedelta(seconds=30)
    for k in range(1, 9):  # trip 2, east
        points.append(P(t, north, LON0 + k * 1.4e-3))
        t += timedelta(seconds=15)
    for _ in range(3):  # a 1-minute halt at a light: not a stop
        points.append(P(t, north, LON0 + 8 * 1.4e-3))
        t += timedelta(seconds=30)
    return points


def test_stops_trips_distance_and_polyline() -> None:
    points = _synthetic()
    spans = tracks.stop_spans(points)
    stops = tracks.stops(points, spans)
    # The arriving fix at the second place starts its stop: 15 s + 4 min.
    assert [round(s.duration_s) for s in stops] == [300, 255]
    assert stops[1].lat == pytest.approx(LAT0 + 0.01, abs=1e-4)
    trips = tracks.trips(points, spans)
    assert len(trips) == 2
    assert trips[0].distance_m == pytest.approx(1112, rel=0.02)
    assert trips[0].start == stops[0].end and trips[0].end == stops[1].start
    assert tracks.distance_m(points) == pytest.approx(1112 + 1155, rel=0.03)
    line = tracks.simplify(points)
    # Two straight legs: the corner and the ends survive, the jitter and the straight runs do not.
    assert 3 <= len(line) <= 6
    assert line[0] == (points[0].lat, points[0].lon) and line[-1] == (points[-1].lat, points[-1].lon)
    assert any(abs(lat - (LAT0 + 0.01)) < 1e-4 and abs(lon - LON0) < 1e-4 for lat, lon in line)


def test_empty_and_tiny_tracks() -> None:
    assert tracks.stop_spans([]) == [] and tracks.trips([], []) == [] and tracks.simplify([]) == []
    one = [P(T0, LAT0, LON0)]
    assert tracks.distance_m(one) == 0 and tracks.simplify(one) == [(LAT0, LON0)]


def _fix(seconds: float, dlat: float = 0.0, **kwargs: object) -> Fix:
    return Fix(device_id="d1", ts=T0 + timedelta(seconds=seconds), lat=LAT0 + dlat, lon=LON0, **kwargs)


@pytest.mark.parametrize(
    ("fix", "reason"),
    [
        (Fix(device_id="ghost", ts=T0, lat=LAT0, lon=LON0), "unknown_device"),
        (_fix(0, attributes={"valid": "false"}), "invalid"),
        (Fix(device_id="d1", ts=T0, lat=0, lon=0), "invalid"),
        (_fix(3600), "invalid"),  # an hour ahead of "now"
        (_fix(-40 * 86400), "invalid"),
        (_fix(120, dlat=0.01, accuracy=250), "accuracy"),
        (_fix(-600), "duplicate"),
        (_fix(-580, dlat=0.025), "speed"),  # 2.8 km in 20 s: 500 km/h
        (_fix(-570, dlat=3e-5), "jitter"),  # 3 m, 30 s after the last stored point
        (_fix(120, dlat=0.002), None),  # 222 m in 12 min: walking
        (_fix(-500, dlat=3e-5), None),  # parked, but 100 s later: kept, a stop needs its points
    ],
)
def test_filter_chain_reasons(fix: Fix, reason: str | None) -> None:
    state = filters.FilterState(now=T0, config=filters.FilterConfig(), known=frozenset({"d1"}))
    state.accept(_fix(-600))
    counter = filters.FILTERED.labels(reason or "speed")
    before = counter._value.get()
    drop = filters.run_chain(fix, state)
    assert (drop.reason if drop else None) == reason
    assert counter._value.get() == before + (1 if reason else 0)


def test_a_failing_step_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def broken(fix: Fix, state: filters.FilterState) -> filters.Drop | None:
        raise RuntimeError("bug in a step")

    state = filters.FilterState(now=T0, config=filters.FilterConfig(), known=frozenset({"d1"}))
    steps = (broken, *filters.CHAIN)
    assert filters.run_chain(_fix(0), state, steps) is None
    assert filters.run_chain(_fix(0, attributes={"valid": "0"}), state, steps) == filters.Drop(
        "invalid", "the device marked this fix invalid (valid=false)"
    )
    assert "filter step broken failed" in caplog.text


def _reference_simplify(points: list[P], tolerance_m: float) -> list[tuple[float, float]]:
    """Douglas-Peucker written out point by point, as the vectorised one must behave."""
    import math

    from inspection.gps.geo import EARTH_RADIUS_M

    lat0 = math.radians(sum(p.lat for p in points) / len(points))
    scale = math.pi / 180 * EARTH_RADIUS_M
    xy = [(p.lon * scale * math.cos(lat0), p.lat * scale) for p in points]

    def dist(k: int, a: int, b: int) -> float:
        (px, py), (ax, ay), (bx, by) = xy[k], xy[a], xy[b]
        dx, dy = bx - ax, by - ay
        t = (
            0.0
            if dx == dy == 0
            else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        )
        return math.hypot(px - ax - t * dx, py - ay - t * dy)

    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_d = -1, tolerance_m
        for k in range(first + 1, last):
            if (d := dist(k, first, last)) > worst_d:
                worst, worst_d = k, d
        if worst >= 0:
            keep.add(worst)
            stack.extend(((first, worst), (worst, last)))
    return [(points[k].lat, points[k].lon) for k in sorted(keep)]


@pytest.mark.parametrize(("seed", "tolerance_m"), [(1, 5.0), (2, 1.0), (3, 50.0)])
def test_simplify_matches_the_point_by_point_algorithm(seed: int, tolerance_m: float) -> None:
    import random

    rnd = random.Random(seed)
    points, lat, lon = [], LAT0, LON0
    for k in range(2000):  # a wandering walk with loops back to the start (closed spans)
        lat, lon = lat + rnd.gauss(0, 3e-5), lon + rnd.gauss(0, 3e-5)
        points.append(P(T0 + timedelta(seconds=5 * k), lat, lon))
    points.append(points[0])
    line = tracks.simplify(points, tolerance_m=tolerance_m)
    assert line == _reference_simplify(points, tolerance_m)
    assert tracks.distance_m(points) == pytest.approx(
        sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(points))
    )
