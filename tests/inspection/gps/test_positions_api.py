"""GPS fixes through the OsmAnd endpoint and the JSON batch endpoint, stored on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from config.district import District

Login = Callable[[str], dict[str, str]]


def _spot(district: District, street: str) -> tuple[float, float]:
    r = next(r for r in district.restaurants if r.street == street)
    return r.lat, r.lon


def test_osmand_fix_is_stored_and_shown(client: TestClient, login: Login, sample_district: District) -> None:
    lat, lon = _spot(sample_district, "yantian")
    ts = datetime.now(UTC).replace(microsecond=0)
    # Traccar Client style: query string, seconds, speed in knots.
    params = {
        "id": "insp-11",
        "lat": lat,
        "lon": lon,
        "timestamp": int(ts.timestamp()),
        "speed": "10",
        "bearing": "90",
        "accuracy": "8",
        "batt": "77",
        "charge": "true",
    }
    response = client.get("/osmand", params=params)
    assert response.status_code == 200, response.text
    inspectors = {i["id"]: i for i in client.get("/api/inspectors", headers=login("admin")).json()}
    last = inspectors["insp-11"]["last"]
    assert inspectors["insp-11"]["online"] is True
    assert (last["lat"], last["lon"], last["battery"]) == (pytest.approx(lat), pytest.approx(lon), 77)
    assert last["speed_kmh"] == pytest.approx(18.52)  # 10 knots
    track = client.get("/api/inspectors/insp-11/track", headers=login("admin")).json()
    assert [p["ts"] for p in track["points"]][-1].startswith(ts.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("POST", {"data": {"deviceid": "insp-12", "lat": "22.58", "lon": "114.27"}}),
        (
            "POST",
            {"json": {"id": "insp-12", "lat": 22.58, "lon": 114.27, "timestamp": "2026-01-01T00:00:00Z"}},
        ),
        ("GET", {"params": {"id": "insp-12", "location": "22.58,114.27", "timestamp": "1767225600000"}}),
    ],
    ids=["form", "json", "location-ms"],
)
def test_osmand_variants_are_accepted(client: TestClient, method: str, kwargs: dict[str, object]) -> None:
    if "timestamp" in str(kwargs):
        # The fixed dates above are too old for the 30-day window: move them to now.
        now = datetime.now(UTC)
        kwargs = {
            k: {**v, "timestamp": str(int(now.timestamp() * 1000))} if isinstance(v, dict) else v
            for k, v in kwargs.items()
        }
    response = client.request(method, "/osmand", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"id": "insp-01", "lon": "114.27"}, "missing lat or lon"),
        ({"lat": "22.58", "lon": "114.27"}, "missing device id"),
        ({"id": "insp-01", "lat": "95", "lon": "114.27"}, "lat"),
        ({"id": "insp-01", "lat": "north", "lon": "114.27"}, "lat is not a number"),
        ({"id": "insp-01", "lat": "22.58", "lon": "114.27", "timestamp": "4102444800"}, "in the future"),
        ({"id": "insp-01", "lat": "22.58", "lon": "114.27", "timestamp": "315532800"}, "older than"),
        ({"id": "insp-01", "lat": "22.58", "lon": "114.27", "timestamp": "yesterday"}, "timestamp"),
        ({"id": "insp-01", "lat": "22.58", "lon": "114.27", "valid": "false"}, "invalid"),
    ],
    ids=["no-lat", "no-id", "lat-range", "lat-text", "future", "1980", "bad-ts", "invalid"],
)
def test_osmand_bad_input_gets_400_with_reason(
    client: TestClient, params: dict[str, str], reason: str
) -> None:
    response = client.get("/osmand", params=params)
    assert response.status_code == 400
    assert reason in response.text


def test_batch_keeps_good_fixes_and_reports_bad_ones(client: TestClient, login: Login) -> None:
    now = datetime.now(UTC)
    positions = [
        {"device_id": "veh-02", "ts": (now - timedelta(seconds=30)).isoformat(), "lat": 22.57, "lon": 114.26},
        {"device_id": "ghost", "ts": now.isoformat(), "lat": 22.57, "lon": 114.26},
        {"device_id": "veh-02", "ts": now.isoformat(), "lat": 22.571, "lon": 114.261, "speed_kmh": 30},
    ]
    response = client.post("/api/positions", json={"positions": positions}, headers=login("admin"))
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    # An unregistered device is held for approval (test_pending_devices), not lost and not stored.
    assert body["rejected"] == []
    assert [(r["index"], r["device_id"], r["code"]) for r in body["held"]] == [(1, "ghost", "held")]
    malformed = client.post(
        "/api/positions", json={"positions": [{"device_id": "veh-02", "lat": 1}]}, headers=login("admin")
    )
    assert malformed.status_code == 422
    assert "positions.0.ts" in malformed.json()["detail"]
    assert (
        client.post("/api/positions", json={"positions": positions}, headers=login("wall")).status_code == 403
    )


def test_track_is_scoped_and_validated(client: TestClient, login: Login) -> None:
    assert client.get("/api/inspectors/insp-01/track", headers=login("sup-meisha")).status_code == 403
    assert client.get("/api/inspectors/insp-99/track", headers=login("admin")).status_code == 404
    backwards = client.get(
        "/api/inspectors/insp-01/track?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        headers=login("admin"),
    )
    assert backwards.status_code == 400
    visible = {i["street_id"] for i in client.get("/api/inspectors", headers=login("sup-meisha")).json()}
    assert visible == {"meisha"}
