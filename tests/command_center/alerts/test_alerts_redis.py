"""Alerts on the production setup: two servers sharing PostgreSQL and a Redis Streams bus. A replayed
event is stored once, and a burst of alerts for one problem, split between the servers' consumers,
still ends in one case."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient

from command_center.app import create_app
from command_center.database.core import transaction
from command_center.demo import ensure_users
from command_center.events.schemas import AlertCreated
from config.district import District
from tests.command_center.alerts.support import eventually, kitchen_cameras, publish, receive, token
from tests.conftest import PASSWORD, make_settings
from tests.services import fresh_postgres_database, unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def servers(
    sample_district: District, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[TestClient]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    stream = f"test:alerts:{uuid.uuid4().hex}"
    with fresh_postgres_database() as db_url:
        apps = [
            create_app(
                make_settings(
                    tmp_path_factory.mktemp(name), db_url, redis_url=REDIS_URL, event_stream=stream
                ),
                district=sample_district,
                migrate=True,
            )
            for name in ("a", "b")
        ]
        with transaction(apps[0].state.ctx.sessions) as session:
            ensure_users(session, sample_district, PASSWORD)
        try:
            with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
                yield [a, b]
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{stream}*"):
                client.delete(key)


def _admin(client: TestClient) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _alerts(client: TestClient, **params: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = client.get("/api/alerts", params=params, headers=_admin(client)).json()
    return rows


def test_a_replayed_event_is_stored_once_across_servers(
    servers: list[TestClient], sample_district: District
) -> None:
    a, b = servers
    camera, _ = kitchen_cameras(sample_district, "haishan")[0]
    event = AlertCreated(camera_id=camera, violation="rodent", score=0.8)
    sup = _admin(b)
    with b.websocket_connect(f"/ws?token={token(sup)}") as ws:
        assert receive(ws)["type"] == "hello"
        for client in (a, a, b):  # the same event three times, through both servers
            publish(client, event)
        eventually(lambda: _alerts(b, event_id=event.id), what="the alert to be stored")
        # Everything the one alert caused reaches the browser once: no second alert, no second case.
        types = [receive(ws)["type"] for _ in range(3)]
        assert sorted(types) == ["alert.created", "alert.updated", "case.updated"]
        marker = AlertCreated(violation="ping")  # no restaurant: stored, opens no case
        publish(a, marker)
        rest = []
        while (frame := receive(ws))["id"] != marker.id:
            rest.append(frame["type"])
        assert rest == []
    assert len(_alerts(a, event_id=event.id)) == 1


def test_a_burst_split_between_servers_ends_in_one_case(
    servers: list[TestClient], sample_district: District
) -> None:
    a, b = servers
    camera, restaurant = kitchen_cameras(sample_district, "meisha")[0]
    first = AlertCreated(camera_id=camera, violation="no_mask")
    burst = [first] + [
        AlertCreated(camera_id=camera, violation="no_mask", ts=first.ts + timedelta(seconds=n))
        for n in range(1, 20)
    ]
    for n, event in enumerate(burst):
        publish(servers[n % 2], event)
    stored = eventually(
        lambda: (rows := _alerts(a, camera=camera, limit="100")) and len(rows) == len(burst) and rows,
        within=30,
        what="all alerts of the burst",
    )
    assert len({row["case_id"] for row in stored}) == 1
    cases = b.get("/api/cases", params={"restaurant": restaurant}, headers=_admin(b)).json()
    assert [c["alert_count"] for c in cases] == [len(burst)]
