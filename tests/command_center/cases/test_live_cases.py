"""Alert and case events over the WebSocket: each client gets what its role and street allow, and a
client that reconnects with the last event id it saw gets what it missed, once, before the live ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from command_center.cases import flows
from command_center.events.schemas import AlertCreated, CameraStatus, Event
from config.district import District
from tests.command_center.alerts.support import Clock, call, context, kitchen_cameras, publish, receive, token

Login = Callable[[str], dict[str, str]]


def frames_until(ws: WebSocketTestSession, marker: Event) -> list[dict[str, Any]]:
    """Every frame before ``marker`` (a district-wide event everyone sees), marker excluded."""
    seen = []
    while (frame := receive(ws))["id"] != marker.id:
        seen.append(frame)
    return seen


def marker() -> CameraStatus:
    """A district-wide event (no street): every client sees it, so it closes a batch."""
    return CameraStatus(camera_id="no-such-camera", state="online")


def connect(client: TestClient, login: Login, user: str, **params: str) -> WebSocketTestSession:
    query = "&".join(f"{k}={v}" for k, v in {"token": token(login(user)), **params}.items())
    return client.websocket_connect(f"/ws?{query}")


def test_alert_and_case_events_reach_the_streets_that_may_see_them(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "haishan")[4]
    with (
        connect(client, login, "sup-haishan") as haishan,
        connect(client, login, "sup-meisha") as meisha,
        connect(client, login, "wall") as wall,
    ):
        for ws in (haishan, meisha, wall):
            assert receive(ws)["type"] == "hello"
        alert = AlertCreated(camera_id=camera, street_id="haishan", violation="rodent")
        publish(client, alert)
        # The consumer stores the alert and opens a case: alert.updated and case.updated follow.
        got = [receive(haishan) for _ in range(3)]
        assert [f["type"] for f in got] == ["alert.created", "alert.updated", "case.updated"]
        assert got[1]["case_id"] == got[2]["case_id"] and got[2]["state"] == "new"
        assert [receive(wall)["type"] for _ in range(3)] == ["alert.created", "alert.updated", "case.updated"]
        end = marker()
        publish(client, end)
        assert frames_until(meisha, end) == []


def test_inspectors_get_the_events_of_their_cases_only(
    client: TestClient, login: Login, clock: Clock, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "haishan")[5]
    inspectors = [u for u in sample_district.users if u.role == "inspector"][:2]
    with connect(client, login, "sup-haishan") as supervisor:
        assert receive(supervisor)["type"] == "hello"
        publish(client, AlertCreated(camera_id=camera, street_id="haishan", violation="no_mask"))
        case_id = int([receive(supervisor) for _ in range(3)][2]["case_id"])
    with (
        connect(client, login, inspectors[0].username) as mine,
        connect(client, login, inspectors[1].username) as other,
    ):
        assert receive(mine)["type"] == receive(other)["type"] == "hello"
        headers = login("sup-haishan")

        def act(**body: str | None) -> int:
            response = client.post(f"/api/cases/{case_id}/actions", json=body, headers=headers)
            return int(response.status_code)

        assert act(action="assign", inspector_id=inspectors[0].inspector) == 200
        assert act(action="confirm") == 200
        end = marker()
        publish(client, end)
        updates = frames_until(mine, end)
        assert [(f["type"], f["state"], f["action"]) for f in updates] == [
            ("case.updated", "new", "assign"),
            ("case.updated", "confirmed", "confirm"),
        ]
        assert frames_until(other, end) == []
        # The periodic escalation publishes too (here run once, on the test's clock).
        deadline = (clock.now + timedelta(minutes=1)).isoformat()
        assert act(action="notify") == 200
        assert act(action="start_rectification", deadline=deadline) == 200
        clock.advance(minutes=2)
        assert call(client, flows.escalate_now, context(client)) >= 1
        states = [receive(mine)["state"] for _ in range(3)]
        assert states == ["notified", "rectifying", "escalated"]


def test_a_reconnecting_client_gets_what_it_missed_once(client: TestClient, login: Login) -> None:
    first, missed, live = marker(), [marker(), marker()], marker()
    with connect(client, login, "admin") as ws:
        assert receive(ws)["type"] == "hello"
        publish(client, first)
        assert receive(ws)["id"] == first.id
    for event in missed:  # published while the client is away
        publish(client, event)
    with connect(client, login, "admin", last_event_id=first.id) as ws:
        hello = receive(ws)
        assert (hello["resumed"], hello["missed"]) == (True, 2)
        assert [receive(ws)["id"] for _ in missed] == [e.id for e in missed]
        publish(client, live)
        assert receive(ws)["id"] == live.id  # no duplicates, no gap
    with connect(client, login, "sup-meisha", last_event_id="forgotten-long-ago") as ws:
        assert receive(ws)["resumed"] is False


def test_resuming_does_not_leak_other_streets(
    client: TestClient, login: Login, sample_district: District
) -> None:
    camera, _ = kitchen_cameras(sample_district, "meisha")[4]
    start = marker()
    with connect(client, login, "sup-haishan") as ws:
        assert receive(ws)["type"] == "hello"
        publish(client, start)
        assert receive(ws)["id"] == start.id
    publish(client, CameraStatus(camera_id=camera, street_id="meisha", state="offline"))
    with connect(client, login, "sup-haishan", last_event_id=start.id) as ws:
        assert receive(ws)["missed"] == 0
