"""Unknown GPS devices held for approval (the default): held fixes, the admin's list, approval with the
held fixes replayed onto the owner's track, rejection; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.district import District
from inspection.gps import pending

Login = Callable[[str], dict[str, str]]
M = 1 / 111_000  # about a metre of latitude


def _fix(device: str, lat: float, lon: float, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"id": device, "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "timestamp": int(at.timestamp()), **extra}


def _pending(client: TestClient, login: Login, state: str = "pending") -> dict[str, dict[str, Any]]:
    rows = client.get("/api/devices/pending", params={"state": state}, headers=login("admin")).json()
    return {d["device_id"]: d for d in rows}


def test_an_unknown_phone_is_held_then_approved_onto_the_inspectors_track(
    client: TestClient, login: Login, sample_district: District
) -> None:
    r = next(r for r in sample_district.restaurants if r.street == "yantian")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # A replacement phone nobody registered: its first fixes are held, answered 200 so it stops resending.
    for k in range(3):
        response = client.get(
            "/osmand", params=_fix("new-phone-7", r.lat + 100 * k * M, r.lon, t0 + timedelta(minutes=k))
        )
        assert response.status_code == 200, response.text
        assert "held" in response.text and "new-phone-7" in response.text
    # Tried: a fix of the unknown phone that is invalid anyway (in the future): refused, not held.
    future = client.get("/osmand", params=_fix("new-phone-7", r.lat, r.lon, t0 + timedelta(days=2)))
    assert future.status_code == 400 and "in the future" in future.text
    # Tried: out-of-range coordinates from an unknown device: refused before anything is kept.
    assert client.get("/osmand", params={"id": "new-phone-7", "lat": "95", "lon": "114"}).status_code == 400

    held = _pending(client, login)["new-phone-7"]
    assert (held["state"], held["held"]) == ("pending", 3)
    assert held["last_lat"] == pytest.approx(r.lat + 200 * M)
    # Only district admins decide on devices.
    for user in ("sup-yantian", "insp-11", "wall"):
        assert client.get("/api/devices/pending", headers=login(user)).status_code == 403, user
    # Nothing reached any track while pending.
    inspector = next(i for i in sample_district.inspectors if i.street == "yantian")
    before = client.get(f"/api/inspectors/{inspector.id}/track", headers=login("admin")).json()["points"]
    assert before == []

    # Tried: approving for nobody, for both, for an unknown inspector, and an unknown device.
    url = "/api/devices/pending/new-phone-7/approve"
    assert client.post(url, json={}, headers=login("admin")).status_code == 422
    both = {"inspector_id": inspector.id, "vehicle_id": "veh-01"}
    assert client.post(url, json=both, headers=login("admin")).status_code == 422
    nobody = client.post(url, json={"inspector_id": "insp-99"}, headers=login("admin"))
    assert nobody.status_code == 422 and "insp-99" in nobody.json()["detail"]
    missing = client.post(
        "/api/devices/pending/never-seen/approve", json={"vehicle_id": "veh-01"}, headers=login("admin")
    )
    assert missing.status_code == 404
    assert (
        client.post(url, json={"inspector_id": inspector.id}, headers=login("sup-yantian")).status_code == 403
    )

    approved = client.post(
        url, json={"inspector_id": inspector.id, "note": "new phone"}, headers=login("admin")
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["device"]["state"], body["device"]["owner_id"], body["device"]["decided_by"]) == (
        "approved",
        inspector.id,
        "admin",
    )
    assert (body["replay"]["accepted"], body["replay"]["rejected"]) == (3, [])
    track = client.get(f"/api/inspectors/{inspector.id}/track", headers=login("admin")).json()
    assert [p["lat"] for p in track["points"]] == pytest.approx([r.lat + 100 * k * M for k in range(3)])
    # From now on the phone reports for the inspector, through the whole filter chain.
    later = client.get(
        "/osmand", params=_fix("new-phone-7", r.lat + 300 * M, r.lon, t0 + timedelta(minutes=4))
    )
    assert (later.status_code, later.text) == (200, "OK")
    again = client.get(
        "/osmand", params=_fix("new-phone-7", r.lat + 300 * M, r.lon, t0 + timedelta(minutes=4))
    )
    assert "duplicate" in again.text
    inspectors = {i["id"]: i for i in client.get("/api/inspectors", headers=login("admin")).json()}
    assert inspectors[inspector.id]["last"]["lat"] == pytest.approx(r.lat + 300 * M)
    # Decided once: a second decision is refused.
    assert client.post(url, json={"inspector_id": inspector.id}, headers=login("admin")).status_code == 409
    assert "new-phone-7" in _pending(client, login, "approved")


def test_a_rejected_device_is_refused_and_its_held_fixes_dropped(client: TestClient, login: Login) -> None:
    now = datetime.now(UTC)
    batch = [
        {
            "device_id": "scanner-1",
            "ts": (now - timedelta(seconds=30)).isoformat(),
            "lat": 22.57,
            "lon": 114.26,
        },
        {"device_id": "veh-04", "ts": now.isoformat(), "lat": 22.571, "lon": 114.261},
        {"device_id": "scanner-1", "ts": now.isoformat(), "lat": 22.58, "lon": 114.27},
    ]
    result = client.post("/api/positions", json={"positions": batch}, headers=login("admin")).json()
    assert result["accepted"] == 1 and result["rejected"] == []
    assert [(h["index"], h["device_id"], h["code"]) for h in result["held"]] == [
        (0, "scanner-1", "held"),
        (2, "scanner-1", "held"),
    ]
    assert _pending(client, login)["scanner-1"]["held"] == 2
    rejected = client.post(
        "/api/devices/pending/scanner-1/reject", json={"note": "not ours"}, headers=login("admin")
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert rejected.json()["held"] == 0
    refused = client.get("/osmand", params={"id": "scanner-1", "lat": "22.57", "lon": "114.26"})
    assert refused.status_code == 400 and "rejected by admin" in refused.text
    assert "scanner-1" not in _pending(client, login)
    assert (
        client.post("/api/devices/pending/scanner-1/reject", json={}, headers=login("admin")).status_code
        == 409
    )


def test_holding_is_bounded(client: TestClient, login: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    # Tried: more fixes of one pending device than may be held.
    monkeypatch.setattr(pending, "MAX_HELD", 2)
    answers = [
        client.get(
            "/osmand", params=_fix("chatty", 22.56 + k * 0.001, 114.25, at + timedelta(seconds=60 * k))
        )
        for k in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 400]
    assert "2 fixes held already" in answers[2].text
    assert _pending(client, login)["chatty"]["overflow"] == 1
    # Tried: a flood of invented ids beyond the pending limit.
    monkeypatch.setattr(pending, "MAX_PENDING", len(_pending(client, login)))
    flood = client.get("/osmand", params=_fix("invented-123", 22.56, 114.25, at))
    assert flood.status_code == 400 and "await approval already" in flood.text
    assert "invented-123" not in _pending(client, login, "all")
