"""The WebSocket fan-out: events reach the clients allowed to see them, and only those."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from config.district import District

Login = Callable[[str], dict[str, str]]


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_bad_token_is_closed_with_4401(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws?token=forged") as ws:
        ws.receive_json()
    assert closed.value.code == 4401


def test_positions_reach_the_streets_that_may_see_them(
    client: TestClient, login: Login, sample_district: District
) -> None:
    meisha_inspector = next(i for i in sample_district.inspectors if i.street == "meisha")
    r = next(r for r in sample_district.restaurants if r.street == "meisha")
    with (
        client.websocket_connect(f"/ws?token={_token(login('admin'))}") as admin_ws,
        client.websocket_connect(f"/ws?token={_token(login('sup-meisha'))}") as meisha_ws,
    ):
        assert admin_ws.receive_json()["type"] == "hello"
        assert meisha_ws.receive_json()["street_id"] == "meisha"
        # insp-01 works in shatoujiao: the meisha supervisor must not see it.
        assert client.get("/osmand", params={"id": "insp-01", "lat": 22.55, "lon": 114.23}).status_code == 200
        assert (
            client.get(
                "/osmand", params={"id": meisha_inspector.device_id, "lat": r.lat, "lon": r.lon}
            ).status_code
            == 200
        )
        first, second = admin_ws.receive_json(), admin_ws.receive_json()
        assert [first["device_id"], second["device_id"]] == ["insp-01", meisha_inspector.device_id]
        assert first["type"] == "position" and first["street_id"] == "shatoujiao" and first["id"]
        seen = meisha_ws.receive_json()
        assert seen["device_id"] == meisha_inspector.device_id
        assert seen["inspector_id"] == meisha_inspector.id
