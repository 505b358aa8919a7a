"""Alerts through the real pipeline (bus -> cc-alerts consumer -> database -> API), on SQLite and
PostgreSQL: stored once per event, located from the cameras table, gathered into cases, scoped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from command_center.alerts import flows
from command_center.events.schemas import AlertCreated
from config.district import District
from tests.command_center.alerts.support import context, eventually, kitchen_cameras, publish

Login = Callable[[str], dict[str, str]]


def _stored(client: TestClient, login: Login, event_id: str) -> dict[str, Any] | None:
    response = client.get("/api/alerts", params={"event_id": event_id}, headers=login("admin"))
    assert response.status_code == 200, response.text
    rows = response.json()
    return rows[0] if rows else None


def _wait_stored(client: TestClient, login: Login, event_id: str) -> dict[str, Any]:
    found: dict[str, Any] = eventually(
        lambda: _stored(client, login, event_id), what=f"alert of event {event_id} to be stored"
    )
    return found


def test_a_replayed_event_is_stored_once_and_located_from_its_camera(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, restaurant = kitchen_cameras(sample_district, "haishan")[0]
    # The detector knows only its camera; restaurant and street come from the cameras table.
    event = AlertCreated(camera_id=camera, violation="no_mask", score=0.91, validated=True)
    publish(client, event)
    publish(client, event)  # a replay: must change nothing
    alert = _wait_stored(client, login, event.id)
    assert (alert["restaurant_id"], alert["street_id"], alert["camera_id"]) == (restaurant, "haishan", camera)
    assert (alert["source"], alert["score"], alert["validated"], alert["status"]) == (
        "detector",
        0.91,
        True,
        "new",
    )
    assert alert["case_id"] is not None
    # Even a replay that slips past the bus's own de-duplication stores nothing new.
    assert flows.ingest(context(client), event) == []
    listed = client.get("/api/alerts", params={"camera": camera}, headers=login("admin"))
    assert [a["event_id"] for a in listed.json()].count(event.id) == 1
    case = client.get(f"/api/cases/{alert['case_id']}", headers=login("admin")).json()
    assert case["alert_count"] == 1 and [a["id"] for a in case["alerts"]] == [alert["id"]]


def test_alerts_within_the_window_share_a_case_and_later_ones_open_a_new_one(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, restaurant = kitchen_cameras(sample_district, "haishan")[1]
    first = AlertCreated(camera_id=camera, violation="rodent", score=0.7)
    close_by = AlertCreated(
        camera_id=camera, violation="rodent", score=0.8, ts=first.ts + timedelta(minutes=40)
    )
    other_kind = AlertCreated(camera_id=camera, violation="no_hat", validated=False, ts=first.ts)
    much_later = AlertCreated(camera_id=camera, violation="rodent", ts=close_by.ts + timedelta(minutes=61))
    ids = []
    for event in (first, close_by, other_kind, much_later):
        publish(client, event)
        ids.append(_wait_stored(client, login, event.id)["case_id"])
    assert ids[0] == ids[1]  # 40 min apart: one problem
    assert ids[2] not in (ids[0], ids[3])  # another violation: another case
    assert ids[3] != ids[0]  # 61 min after the last one: a new case
    old = client.get(f"/api/cases/{ids[0]}", headers=login("admin")).json()
    assert (old["alert_count"], old["state"]) == (2, "new")
    unvalidated = client.get(f"/api/cases/{ids[2]}", headers=login("admin")).json()
    assert unvalidated["validated"] is False and unvalidated["audit"][0]["action"] == "open"
    opened = client.get("/api/cases", params={"restaurant": restaurant}, headers=login("admin"))
    assert opened.headers["X-Total-Count"] == "3"


def test_camera_health_alerts_keep_their_note_and_are_validated(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, restaurant = kitchen_cameras(sample_district, "yantian")[0]
    # As stream_ingest sends it: ids, evidence and a note, score 1.0.
    event = AlertCreated(
        camera_id=camera,
        restaurant_id=restaurant,
        street_id="yantian",
        violation="camera_tampered",
        score=1.0,
        evidence_url="/evidence/ab/abcdef.jpg",
        note="image frozen for 60 s",
        observed_at="2026-11-27T08:00:00+00:00",
    )
    publish(client, event)
    alert = _wait_stored(client, login, event.id)
    assert (alert["source"], alert["validated"], alert["note"], alert["evidence_url"]) == (
        "camera_health",
        True,
        "image frozen for 60 s",
        "/evidence/ab/abcdef.jpg",
    )


def test_lists_filter_and_page(client: TestClient, login: Login, sample_district: District) -> None:
    camera, _ = kitchen_cameras(sample_district, "meisha")[0]
    events = [AlertCreated(camera_id=camera, violation="no_hat", validated=False) for _ in range(5)]
    for event in events:
        publish(client, event)
    for event in events:
        _wait_stored(client, login, event.id)
    admin = login("admin")
    page = client.get(
        "/api/alerts",
        params={"camera": camera, "limit": 2, "offset": 2, "violation": "no_hat"},
        headers=admin,
    )
    assert page.status_code == 200 and page.headers["X-Total-Count"] == "5" and len(page.json()) == 2
    since = (events[0].ts - timedelta(seconds=1)).isoformat()
    until = (events[-1].ts + timedelta(seconds=1)).isoformat()
    window = client.get(
        "/api/alerts", params={"camera": camera, "since": since, "until": until}, headers=admin
    )
    assert window.headers["X-Total-Count"] == "5"
    assert (
        client.get("/api/alerts", params={"camera": camera, "status": "open"}, headers=admin).headers[
            "X-Total-Count"
        ]
        == "5"
    )
    assert (
        client.get("/api/alerts", params={"camera": camera, "status": "closed"}, headers=admin).json() == []
    )
    naive = client.get("/api/alerts", params={"since": "2026-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422 and "since" in naive.json()["detail"]


def test_street_supervisors_see_their_street_only(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "shatoujiao")[0]
    event = AlertCreated(camera_id=camera, violation="no_mask")
    publish(client, event)
    alert = _wait_stored(client, login, event.id)
    haishan = login("sup-haishan")
    mine = client.get("/api/alerts", headers=haishan).json()
    assert mine and {a["street_id"] for a in mine} == {"haishan"}
    other = client.get("/api/alerts", params={"street": "shatoujiao"}, headers=haishan)
    assert other.status_code == 403 and "haishan" in other.json()["detail"]
    refused = client.get(f"/api/alerts/{alert['id']}", headers=haishan)
    assert refused.status_code == 403 and f"alert {alert['id']}" in refused.json()["detail"]
    assert client.get(f"/api/alerts/{alert['id']}", headers=login("sup-shatoujiao")).status_code == 200
    assert client.get(f"/api/alerts/{alert['id']}", headers=login("wall")).status_code == 200
    assert client.get("/api/alerts/999999", headers=login("admin")).status_code == 404
    assert client.get("/api/alerts").status_code == 401


@pytest.mark.parametrize(
    ("user", "street", "status"),
    [
        ("admin", "meisha", 202),
        ("sup-meisha", "meisha", 202),
        ("sup-haishan", "meisha", 403),
        ("wall", "meisha", 403),
        ("insp-01", "meisha", 403),
    ],
)
def test_manual_alerts_enter_the_same_pipeline(
    client: TestClient, login: Login, sample_district: District, user: str, street: str, status: int
) -> None:
    restaurant = next(r.id for r in sample_district.restaurants if r.street == street)
    body = {"restaurant_id": restaurant, "violation": "rodent", "note": "hotline: rat seen in the kitchen"}
    response = client.post("/api/alerts", json=body, headers=login(user))
    assert response.status_code == status, response.text
    if status != 202:
        assert response.json()["detail"]
        return
    accepted = response.json()
    assert accepted["id"] and response.headers["Location"].endswith(accepted["id"])
    alert = _wait_stored(client, login, accepted["id"])
    assert (alert["source"], alert["reported_by"], alert["note"], alert["street_id"]) == (
        "manual",
        user,
        body["note"],
        street,
    )
    assert accepted["alert_id"] in (None, alert["id"])


def test_manual_alerts_refuse_bad_input_with_a_reason(client: TestClient, login: Login) -> None:
    admin = login("admin")
    unknown = client.post(
        "/api/alerts", json={"restaurant_id": "nope", "violation": "rodent", "note": "x"}, headers=admin
    )
    assert unknown.status_code == 422 and "no restaurant 'nope'" in unknown.json()["detail"]
    bad = client.post(
        "/api/alerts", json={"restaurant_id": "r001", "violation": "Rat!", "note": ""}, headers=admin
    )
    assert bad.status_code == 422
    assert "violation" in bad.json()["detail"] and "note" in bad.json()["detail"]
