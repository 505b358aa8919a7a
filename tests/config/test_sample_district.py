"""The committed sample district loads, has the shape the contract promises, and is reproducible."""

from __future__ import annotations

import csv
import re
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from config.district import District
from config.loader import load_district, sample_district_path
from config.samples import generate
from inspection.gps.geo import point_in_polygon

STREET_IDS = ["shatoujiao", "haishan", "yantian", "meisha"]
BBOX = (22.54, 114.21, 22.61, 114.32)  # min lat, min lon, max lat, max lon
SAMPLES = Path(generate.__file__).parent


@pytest.fixture(scope="module")
def district() -> District:
    return load_district(sample_district_path())


def test_sample_path_is_the_committed_file() -> None:
    assert sample_district_path() == SAMPLES / "district.yaml"
    assert sample_district_path().is_file()


def test_streets_restaurants_and_people(district: District) -> None:
    assert [s.id for s in district.streets] == STREET_IDS
    assert [s.name_zh for s in district.streets] == ["沙头角", "海山", "盐田", "梅沙"]
    assert district.timezone == "Asia/Shanghai"
    assert [r.id for r in district.restaurants] == [f"r{n:03d}" for n in range(1, 256)]
    per_street = Counter(r.street for r in district.restaurants)
    assert set(per_street) == set(STREET_IDS)
    assert len(set(per_street.values())) > 1, "restaurants should be spread unevenly"
    assert all(re.fullmatch(r"JY\d{14}", r.licence_no) for r in district.restaurants)
    assert all(re.fullmatch(r"[a-z0-9]{10}", r.public_id) for r in district.restaurants)
    assert {r.kind for r in district.restaurants} == {"restaurant", "canteen"}

    assert [i.device_id for i in district.inspectors] == [f"insp-{n:02d}" for n in range(1, 21)]
    assert [v.device_id for v in district.vehicles] == [f"veh-{n:02d}" for n in range(1, 5)]
    assert Counter(i.street for i in district.inspectors) == dict.fromkeys(STREET_IDS, 5)
    labs = [lab.id for lab in district.labs]
    assert labs == [f"lab-room-{n}" for n in range(1, 5)] + [f"lab-vehicle-{n}" for n in range(1, 5)]

    users = {u.username: u for u in district.users}
    assert users["admin"].role == "district_admin"
    assert users["wall"].role == "wall_display"
    for street in STREET_IDS:
        assert (users[f"sup-{street}"].role, users[f"sup-{street}"].street) == ("street_supervisor", street)
    for insp in district.inspectors:
        user = users[insp.id]
        assert (user.role, user.inspector, user.street) == ("inspector", insp.id, insp.street)


def test_cameras(district: District) -> None:
    kinds = Counter(c.owner.kind for c in district.cameras)
    assert kinds == {"restaurant": 255, "lab": 4, "vehicle": 4, "terminal": 20}
    kitchens = [c for c in district.cameras if c.owner.kind == "restaurant"]
    assert [(c.id, c.owner.id) for c in kitchens] == [(f"cam-{r.id}", r.id) for r in district.restaurants]
    # Stream paths cam0..cam282 in file order: the camera simulator serves exactly these.
    urls = [c.url.get_secret_value() for c in district.cameras]
    assert urls == [f"rtsp://viewer:sample-pass@127.0.0.1:8554/cam{k}" for k in range(283)]
    zoned = [c for c in kitchens if c.zones]
    assert zoned and any(z.kind == "exclude" for c in zoned for z in c.zones)
    assert all(any(z.kind == "prep" for z in c.zones) for c in zoned)


def test_every_restaurant_is_inside_its_own_street_only(district: District) -> None:
    polygons = {s.id: s.polygon for s in district.streets}
    for r in district.restaurants:
        assert BBOX[0] <= r.lat <= BBOX[2] and BBOX[1] <= r.lon <= BBOX[3], r.id
        containing = [sid for sid, poly in polygons.items() if point_in_polygon(r.lat, r.lon, poly)]
        assert containing == [r.street], r.id


def test_street_polygons_are_plausible_and_disjoint(district: District) -> None:
    for street in district.streets:
        assert 8 <= len(street.polygon) <= 14, street.id
        assert all(BBOX[0] <= lat <= BBOX[2] and BBOX[1] <= lon <= BBOX[3] for lat, lon in street.polygon)
        assert not _self_intersects(street.polygon), street.id
    # Edges of different streets never cross, and no vertex is inside another street ...
    for a, b in combinations(district.streets, 2):
        assert not any(_segments_cross(e, f) for e in _edges(a.polygon) for f in _edges(b.polygon))
        assert not any(point_in_polygon(lat, lon, b.polygon) for lat, lon in a.polygon)
        assert not any(point_in_polygon(lat, lon, a.polygon) for lat, lon in b.polygon)
    # ... and a grid over the bbox (about 80 m spacing) finds no point claimed by two streets.
    steps = 100
    covered = 0
    for i in range(steps + 1):
        for j in range(steps + 1):
            lat = BBOX[0] + (BBOX[2] - BBOX[0]) * i / steps
            lon = BBOX[1] + (BBOX[3] - BBOX[1]) * j / steps
            hits = sum(point_in_polygon(lat, lon, s.polygon) for s in district.streets)
            assert hits <= 1, (lat, lon)
            covered += hits
    assert covered > steps * steps // 10, "the streets should cover a fair part of the bbox"


def test_street_order_runs_west_to_east(district: District) -> None:
    mean_lons = [sum(lon for _, lon in s.polygon) / len(s.polygon) for s in district.streets]
    assert mean_lons == sorted(mean_lons)


def test_registry_matches_the_district(district: District) -> None:
    with (SAMPLES / "registry.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["licence_no", "name", "address", "type", "street", "lat", "lon"]
    licences = [row["licence_no"] for row in rows]
    assert len(set(licences)) == len(licences)
    assert all(re.fullmatch(r"JY\d{14}", lic) for lic in licences)
    by_licence = {row["licence_no"]: row for row in rows}
    for r in district.restaurants:
        row = by_licence[r.licence_no]
        assert [row[k] for k in ("name", "address", "type", "street")] == [
            r.name,
            r.address,
            r.kind,
            r.street,
        ]
        assert (float(row["lat"]), float(row["lon"])) == (r.lat, r.lon)
    others = [row for row in rows if row["type"] not in {"restaurant", "canteen"}]
    assert 30 <= len(others) <= 60
    assert len({row["type"] for row in others}) >= 4
    polygons = {s.id: s.polygon for s in district.streets}
    for row in others:
        assert point_in_polygon(float(row["lat"]), float(row["lon"]), polygons[row["street"]]), row


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    generate.main(["--out", str(tmp_path)])
    for name in ("district.yaml", "registry.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), (
            f"{name} is stale: run `python -m config.samples.generate`"
        )


def test_generator_output_depends_only_on_the_seed() -> None:
    assert generate.generate(seed=1) == generate.generate(seed=1)
    assert generate.generate(seed=1) != generate.generate(seed=2)


Edge = tuple[tuple[float, float], tuple[float, float]]


def _edges(polygon: list[tuple[float, float]]) -> list[Edge]:
    return [(polygon[i], polygon[(i + 1) % len(polygon)]) for i in range(len(polygon))]


def _orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _segments_cross(e: Edge, f: Edge) -> bool:
    """Proper or touching intersection of two segments (collinear overlap counts too)."""
    (p1, p2), (q1, q2) = e, f
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0) and 0 not in (d1, d2, d3, d4):
        return True

    def on(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
        return (
            _orient(a, b, c) == 0
            and min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    return on(q1, q2, p1) or on(q1, q2, p2) or on(p1, p2, q1) or on(p1, p2, q2)


def _self_intersects(polygon: list[tuple[float, float]]) -> bool:
    edges = _edges(polygon)
    n = len(edges)
    # Neighbouring edges share a vertex by construction; only non-adjacent pairs may not meet.
    return any(
        _segments_cross(edges[i], edges[j]) for i in range(n) for j in range(i + 2, n) if (i, j) != (0, n - 1)
    )
