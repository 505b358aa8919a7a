"""A recorded-style OsmAnd sequence (every parameter variant phone apps send) through the filter chain,
then what a supervisor sees of it: the track with stops and trips, geofence visits, dispatch."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.district import District
from inspection.gps.filters import FILTERED

Login = Callable[[str], dict[str, str]]
REASONS = ("invalid", "accuracy", "duplicate", "speed", "jitter", "unknown_device")
# 1e-5 degree of latitude is about 1.1 m.
M = 1 / 111_000


def _counts() -> dict[str, float]:
    return {r: FILTERED.labels(r)._value.get() for r in REASONS}


@pytest.fixture(scope="module")
def home(sample_district: District) -> tuple[str, float, float]:
    r = next(r for r in sample_district.restaurants if r.id == "r001")
    return r.id, r.lat, r.lon


def test_recorded_sequence_through_filters_track_and_visit(
    client: TestClient, login: Login, home: tuple[str, float, float]
) -> None:
    restaurant_id, lat, lon = home
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)

    def sec(offset: float) -> int:
        return int((t0 + timedelta(seconds=offset)).timestamp())

    # (method, how, params, expected status, expected text)
    sequence: list[tuple[str, str, dict[str, Any], int, str]] = [
        (
            "GET",
            "params",
            {"id": "insp-01", "lat": lat, "lon": lon, "timestamp": sec(0), "accuracy": 5},
            200,
            "OK",
        ),
        (
            "POST",
            "data",
            {"deviceid": "insp-01", "lat": lat + 3 * M, "lon": lon, "timestamp": sec(30)},
            200,
            "jitter",
        ),
        (
            "POST",
            "json",
            {"id": "insp-01", "lat": lat + 4 * M, "lon": lon, "timestamp": sec(60) * 1000},
            200,
            "OK",
        ),
        (
            "GET",
            "params",
            {"id": "insp-01", "lat": lat + 4 * M, "lon": lon, "timestamp": sec(60)},
            200,
            "duplicate",
        ),
        (
            "GET",
            "params",
            {
                "id": "insp-01",
                "location": f"{lat},{lon}",
                "accuracy": 500,
                "timestamp": (t0 + timedelta(seconds=90)).isoformat().replace("+00:00", "Z"),
            },
            200,
            "accuracy",
        ),
        (
            "POST",
            "json",
            {
                "device_id": "insp-01",
                "location": {
                    "timestamp": (t0 + timedelta(seconds=120)).isoformat(),
                    "coords": {
                        "latitude": lat - 2 * M,
                        "longitude": lon,
                        "speed": 0,
                        "heading": 10,
                        "accuracy": 4,
                    },
                    "battery": {"level": 0.8},
                },
            },
            200,
            "OK",
        ),
        *[
            (
                "GET",
                "params",
                {
                    "id": "insp-01",
                    "lat": lat + k * M,
                    "lon": lon,
                    "timestamp": sec(120 + 60 * k),
                    "hdop": "0.9",
                    "heading": "45",
                    "altitude": "12",
                    "batt": "79",
                    "speed": "0",
                },
                200,
                "OK",
            )
            for k in (1, 2, 3)
        ],
        (
            "GET",
            "params",
            {"id": "insp-01", "lat": lat, "lon": lon, "timestamp": sec(305), "valid": "false"},
            400,
            "invalid",
        ),
        (
            "GET",
            "params",
            {"id": "insp-01", "lat": lat + 2500 * M, "lon": lon, "timestamp": sec(310)},
            400,
            "km/h",
        ),
        *[
            (
                "GET",
                "params",
                {
                    "id": "insp-01",
                    "lat": lat + 250 * k * M,
                    "lon": lon,
                    "timestamp": sec(300 + 60 * k),
                    "speed": "8",
                },
                200,
                "OK",
            )
            for k in range(1, 6)
        ],
        (
            "GET",
            "params",
            {"id": "insp-01", "lat": lat + 1250 * M, "lon": lon, "timestamp": sec(1200)},
            200,
            "OK",
        ),
    ]
    before = _counts()
    for method, how, params, code, text in sequence:
        response = client.request(method, "/osmand", **{how: params})
        assert (response.status_code, text in response.text) == (code, True), (params, response.text)
    after = _counts()
    assert {r: after[r] - before[r] for r in REASONS} == {
        "invalid": 1,
        "accuracy": 1,
        "duplicate": 1,
        "speed": 1,
        "jitter": 1,
        "unknown_device": 0,
    }

    admin = login("admin")
    since = (t0 - timedelta(minutes=1)).isoformat()
    track = client.get("/api/inspectors/insp-01/track", params={"since": since}, headers=admin).json()
    assert len(track["points"]) == 12
    assert track["points"][2]["battery"] == 80 and track["points"][3]["battery"] == 79
    first_stop = track["stops"][0]
    assert first_stop["duration_s"] == 300
    assert first_stop["lat"] == pytest.approx(lat, abs=1e-4)
    assert track["trips"][0]["distance_m"] == pytest.approx(1250, rel=0.05)
    assert track["distance_m"] == pytest.approx(1250, rel=0.05)
    assert 2 <= len(track["polyline"]) < len(track["points"])

    visits = client.get("/api/inspectors/insp-01/visits", headers=admin).json()
    at_home = [v for v in visits if v["restaurant_id"] == restaurant_id]
    assert len(at_home) == 1
    assert at_home[0]["duration_s"] == 300 and at_home[0]["left_at"] is not None
    by_restaurant = client.get(f"/api/restaurants/{restaurant_id}/visits", headers=login("sup-shatoujiao"))
    assert [v["inspector_id"] for v in by_restaurant.json()] == ["insp-01"]
    assert (
        client.get(f"/api/restaurants/{restaurant_id}/visits", headers=login("sup-meisha")).status_code == 403
    )
    assert client.get("/api/restaurants/nope/visits", headers=admin).status_code == 404


def test_dispatch_ranks_online_inspectors_of_the_street(
    client: TestClient, login: Login, home: tuple[str, float, float]
) -> None:
    restaurant_id, lat, lon = home
    now = datetime.now(UTC)
    positions = [
        {"device_id": "insp-02", "ts": now.isoformat(), "lat": lat + 300 * M, "lon": lon},
        {"device_id": "insp-03", "ts": (now - timedelta(hours=2)).isoformat(), "lat": lat, "lon": lon},
        {"device_id": "insp-06", "ts": now.isoformat(), "lat": lat, "lon": lon},  # another street
    ]
    stored = client.post("/api/positions", json={"positions": positions}, headers=login("admin")).json()
    assert stored["accepted"] == 3
    client.get("/osmand", params={"id": "insp-01", "lat": lat + 900 * M, "lon": lon})
    alert = client.post(
        "/api/alerts",
        json={"restaurant_id": restaurant_id, "violation": "rodent", "note": "hotline call"},
        headers=login("admin"),
    ).json()
    case_id = alert["case_id"]
    for _ in range(50):
        if case_id is not None:
            break
        time.sleep(0.1)
        cases = client.get("/api/cases", params={"restaurant_id": restaurant_id}, headers=login("admin"))
        case_id = next((c["id"] for c in cases.json() if c["violation"] == "rodent"), None)
    supervisor = login("sup-shatoujiao")
    response = client.get(f"/api/cases/{case_id}/dispatch", headers=supervisor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["inspector_id"] for c in body["candidates"]] == ["insp-02", "insp-01"]
    assert body["candidates"][0]["distance_m"] == pytest.approx(300, rel=0.02)
    assert {o["inspector_id"] for o in body["offline"]} == {"insp-03", "insp-04", "insp-05"}
    assert "great-circle" in body["distance"]
    assert client.get(f"/api/cases/{case_id}/dispatch", headers=login("sup-meisha")).status_code == 403
    assert client.get(f"/api/cases/{case_id}/dispatch", headers=login("insp-02")).status_code == 403
    assert client.get("/api/cases/999999/dispatch", headers=supervisor).status_code == 404
    assign = client.post(
        f"/api/cases/{case_id}/actions",
        json={"action": "assign", "inspector_id": "insp-02"},
        headers=supervisor,
    )
    assert assign.status_code == 200, assign.text
    assert assign.json()["inspector_id"] == "insp-02"


def test_batch_bad_input(client: TestClient, login: Login) -> None:
    admin = login("admin")
    now = datetime.now(UTC)
    positions = [
        {"device_id": "veh-03", "ts": (now - timedelta(seconds=20)).isoformat(), "lat": 22.57, "lon": 114.26},
        {
            "device_id": "veh-03",
            "ts": (now - timedelta(seconds=10)).isoformat(),
            "lat": 22.595,
            "lon": 114.26,
        },
        {"device_id": "veh-03", "ts": (now + timedelta(days=1)).isoformat(), "lat": 22.57, "lon": 114.26},
        {"device_id": "nobody", "ts": now.isoformat(), "lat": 22.57, "lon": 114.26},
        {"device_id": "veh-03", "ts": now.isoformat(), "lat": 22.5702, "lon": 114.26},
    ]
    body = client.post("/api/positions", json={"positions": positions}, headers=admin).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "speed"), (2, "invalid")]
    assert [(r["index"], r["code"]) for r in body["held"]] == [(3, "held")]  # unknown: awaits approval
    assert "km/h" in body["rejected"][0]["reason"]
    out_of_range = [{"device_id": "veh-03", "ts": now.isoformat(), "lat": 91, "lon": 200}]
    assert client.post("/api/positions", json={"positions": out_of_range}, headers=admin).status_code == 422
    huge = [{"device_id": "veh-03", "ts": now.isoformat(), "lat": 22.57, "lon": 114.26}] * 10_001
    response = client.post("/api/positions", json={"positions": huge}, headers=admin)
    assert response.status_code == 422
    assert "10000" in response.text
