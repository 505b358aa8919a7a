"""``MSCC_UNKNOWN_DEVICES=reject``: fixes of unregistered devices are refused with the reason and nothing
is kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from command_center.app import create_app
from command_center.database.core import transaction
from command_center.demo import ensure_users
from config.district import District
from tests.conftest import PASSWORD, make_settings

Login = Callable[[str], dict[str, str]]


@pytest.fixture(scope="module")
def app(database_url: str, sample_district: District, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The suite's app with unknown devices refused instead of held."""
    settings = make_settings(tmp_path_factory.mktemp("data"), database_url, unknown_devices="reject")
    application = create_app(settings, district=sample_district, migrate=True)
    with transaction(application.state.ctx.sessions) as session:
        ensure_users(session, sample_district, PASSWORD)
    return application


def test_unknown_devices_are_refused_and_not_kept(client: TestClient, login: Login) -> None:
    # Tried: a valid fix of an unregistered id, over OsmAnd and in a batch.
    response = client.get("/osmand", params={"id": "stranger-phone", "lat": "22.58", "lon": "114.27"})
    assert response.status_code == 400 and "unknown device 'stranger-phone'" in response.text
    batch = [{"device_id": "ghost", "ts": datetime.now(UTC).isoformat(), "lat": 22.57, "lon": 114.26}]
    result = client.post("/api/positions", json={"positions": batch}, headers=login("admin")).json()
    assert (result["accepted"], result["held"]) == (0, [])
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(0, "unknown_device")]
    assert client.get("/api/devices/pending", params={"state": "all"}, headers=login("admin")).json() == []
