"""The grid of restaurant fences finds exactly what comparing a fix with every fence finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from inspection.gps import geofence
from inspection.gps.geofence import Fence, FenceIndex
from inspection.gps.schemas import Fix


@pytest.mark.parametrize(("lat0", "lon0"), [(22.55, 114.24), (69.65, 18.95), (-33.9, 151.2), (1.29, 103.85)])
def test_fence_index_finds_what_a_full_scan_finds(lat0: float, lon0: float) -> None:
    rnd = random.Random(7)
    fences = [
        Fence(f"r{k}", "s", lat0 + rnd.uniform(-0.01, 0.01), lon0 + rnd.uniform(-0.01, 0.01))
        for k in range(300)
    ]
    index = FenceIndex(fences)
    found = 0
    for _ in range(2000):
        near = rnd.choice(fences)
        lat, lon = near.lat + rnd.gauss(0, 4e-4), near.lon + rnd.gauss(0, 4e-4)
        fix = Fix(device_id="d", ts=datetime.now(UTC), lat=lat, lon=lon)
        expected = {f.restaurant_id for f in geofence.inside(fix, fences)}
        assert {f.restaurant_id for f in index.inside(lat, lon)} == expected
        found += bool(expected)
    assert found > 200  # the points did fall inside fences
