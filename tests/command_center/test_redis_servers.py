"""Two command-center servers sharing one PostgreSQL and one Redis, as on two machines: an event that
arrives at one server reaches the browsers of the other, and shared state is written once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from command_center.app import create_app
from command_center.cameras.models import Camera
from command_center.database.core import transaction
from command_center.demo import ensure_users
from command_center.events.schemas import CameraStatus
from config.district import District
from tests.conftest import PASSWORD, make_settings
from tests.services import fresh_postgres_database, unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def two_servers(
    sample_district: District, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, TestClient]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        unavailable(f"Redis at {REDIS_URL}")
    stream = f"test:servers:{uuid.uuid4().hex}"
    with fresh_postgres_database() as db_url:
        apps = []
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path_factory.mktemp(name), db_url, redis_url=REDIS_URL, event_stream=stream
            )
            apps.append(create_app(settings, district=sample_district, migrate=True))
        with transaction(apps[0].state.ctx.sessions) as session:
            ensure_users(session, sample_district, PASSWORD)
        try:
            with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
                yield a, b
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{stream}*"):
                client.delete(key)


def _bearer(client: TestClient, username: str) -> str:
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    token: str = response.json()["access_token"]
    return token


def test_both_servers_report_the_redis_bus(two_servers: tuple[TestClient, TestClient]) -> None:
    for client in two_servers:
        body = client.get("/healthz").json()
        assert (body["status"], body["bus_backend"], body["database_backend"]) == (
            "ok",
            "redis",
            "postgresql",
        )


def test_a_position_sent_to_one_server_is_pushed_by_the_other(
    two_servers: tuple[TestClient, TestClient],
) -> None:
    a, b = two_servers
    token = _bearer(b, "sup-shatoujiao")  # a token from one server is valid on the other: same secret
    with b.websocket_connect(f"/ws?token={token}") as ws:
        assert ws.receive_json()["type"] == "hello"
        response = a.get("/osmand", params={"id": "insp-02", "lat": 22.556, "lon": 114.228})
        assert response.status_code == 200
        event = ws.receive_json()
    assert (event["type"], event["device_id"], event["street_id"]) == ("position", "insp-02", "shatoujiao")


def test_camera_state_from_the_bus_is_stored_once_for_both(
    two_servers: tuple[TestClient, TestClient], sample_district: District
) -> None:
    a, b = two_servers
    labels = {"bus": "redis", "group": "cc-camera-status", "type": "camera.status"}

    def handled() -> float:
        return REGISTRY.get_sample_value("mscc_bus_handled_total", labels) or 0.0

    def skipped() -> float:
        return (
            REGISTRY.get_sample_value(
                "mscc_bus_duplicates_skipped_total", {"bus": "redis", "group": "cc-camera-status"}
            )
            or 0.0
        )

    before = handled()
    camera_id = sample_district.cameras[3].id
    event = CameraStatus(camera_id=camera_id, state="offline", message="no packets for 60 s")
    a.portal.call(a.app.state.ctx.bus.publish, event)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    headers = {"Authorization": f"Bearer {_bearer(b, 'admin')}"}
    while b.get(f"/api/cameras/{camera_id}", headers=headers).json()["state"] != "offline":
        assert time.monotonic() < deadline, "camera state never reached the database"
        time.sleep(0.05)
    # Both servers consume the group, yet exactly one handled the event.
    assert handled() - before == 1
    # The same event replayed (at-least-once delivery) is skipped by its id and changes nothing.
    skipped_before = skipped()
    a.portal.call(a.app.state.ctx.bus.publish, event)  # type: ignore[attr-defined]
    while skipped() == skipped_before:
        assert time.monotonic() < deadline + 10, "the replayed event was never seen"
        time.sleep(0.05)
    assert handled() - before == 1
    with a.app.state.ctx.sessions() as session:  # type: ignore[attr-defined]
        stored = session.get(Camera, camera_id)
        assert stored is not None and stored.state_changed_at == event.ts
