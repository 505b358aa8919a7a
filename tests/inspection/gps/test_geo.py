"""The geo helpers behave like a map user expects: distances in metres, concave shapes respected."""

from __future__ import annotations

import random

import pytest

from inspection.gps.geo import (
    haversine_m,
    point_in_polygon,
    polygon_area,
    polygon_bbox,
    polygon_centroid,
    random_point_in_polygon,
)

# A "U" opening to the north: the notch between the arms is outside although it is inside the bbox.
U_SHAPE = [(0.0, 0.0), (0.0, 3.0), (3.0, 3.0), (3.0, 2.0), (1.0, 2.0), (1.0, 1.0), (3.0, 1.0), (3.0, 0.0)]
SQUARE = [(0.0, 0.0), (0.0, 2.0), (2.0, 2.0), (2.0, 0.0)]


@pytest.mark.parametrize(
    ("a", "b", "expected_m", "tolerance_m"),
    [
        ((0.0, 0.0), (0.0, 0.0), 0.0, 1e-9),
        ((0.0, 114.0), (1.0, 114.0), 111_195, 50),  # one degree of latitude
        ((0.0, 0.0), (0.0, 1.0), 111_195, 50),  # one degree of longitude on the equator
        ((60.0, 0.0), (60.0, 1.0), 55_596, 50),  # ... halves at 60 degrees north (cos 60 = 0.5)
        ((0.0, 0.0), (0.0, 180.0), 20_015_115, 100),  # half the equator, antipodal
        ((22.5440, 114.2140), (22.5440, 114.2240), 1_027, 2),  # 0.01 deg of longitude in Yantian
    ],
)
def test_haversine_known_distances(
    a: tuple[float, float], b: tuple[float, float], expected_m: float, tolerance_m: float
) -> None:
    assert haversine_m(*a, *b) == pytest.approx(expected_m, abs=tolerance_m)
    assert haversine_m(*b, *a) == pytest.approx(haversine_m(*a, *b))


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.5, 0.5), True),  # bottom bar
        ((2.5, 0.5), True),  # west arm
        ((2.5, 2.5), True),  # east arm
        ((2.0, 1.5), False),  # in the notch between the arms
        ((1.5, 1.5), False),  # still in the notch
        ((0.5, 1.5), True),  # below the notch
        ((-0.1, 1.5), False),
        ((3.5, 0.5), False),
        ((1.0, 4.0), False),
    ],
)
def test_point_in_concave_polygon(point: tuple[float, float], inside: bool) -> None:
    assert point_in_polygon(*point, U_SHAPE) is inside


def test_point_in_polygon_accepts_closed_rings_and_either_orientation() -> None:
    closed = [*SQUARE, SQUARE[0]]
    reversed_ring = list(reversed(SQUARE))
    for ring in (SQUARE, closed, reversed_ring):
        assert point_in_polygon(1.0, 1.0, ring)
        assert not point_in_polygon(3.0, 1.0, ring)


def test_point_in_polygon_needs_three_vertices() -> None:
    assert not point_in_polygon(0.0, 0.0, [(0.0, 0.0), (1.0, 1.0)])


def test_area_and_bbox() -> None:
    assert abs(polygon_area(SQUARE)) == pytest.approx(4.0)
    assert abs(polygon_area(U_SHAPE)) == pytest.approx(7.0)
    assert polygon_bbox(U_SHAPE) == (0.0, 0.0, 3.0, 3.0)


def test_centroid() -> None:
    assert polygon_centroid(SQUARE) == pytest.approx((1.0, 1.0))
    # The U's centroid lies on its axis of symmetry and south of the middle, pulled by the solid bar.
    lat, lon = polygon_centroid(U_SHAPE)
    assert lon == pytest.approx(1.5)
    assert lat == pytest.approx((1 * 3 * 0.5 + 2 * 2 * 1 * 2.0) / 7)
    # Orientation does not matter, and a degenerate polygon falls back to the vertex mean.
    assert polygon_centroid(list(reversed(U_SHAPE))) == pytest.approx((lat, lon))
    assert polygon_centroid([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]) == pytest.approx((1.0, 1.0))
    with pytest.raises(ValueError, match="no vertices"):
        polygon_centroid([])


def test_random_points_are_inside_and_reproducible() -> None:
    points = [random_point_in_polygon(random.Random(7), U_SHAPE) for _ in range(2)]
    assert points[0] == points[1]
    rng = random.Random(1)
    sample = [random_point_in_polygon(rng, U_SHAPE) for _ in range(500)]
    assert all(point_in_polygon(lat, lon, U_SHAPE) for lat, lon in sample)
    # Both arms get points, so the sampler is not stuck in one part of the shape.
    assert any(lon < 1.0 and lat > 1.0 for lat, lon in sample)
    assert any(lon > 2.0 and lat > 1.0 for lat, lon in sample)


def test_random_point_gives_up_on_a_degenerate_polygon() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        random_point_in_polygon(random.Random(0), [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)], max_tries=50)
