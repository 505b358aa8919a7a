"""End to end: a real RTSP camera recorded by the ingest, an alert on it, and the evidence clip that the
command center cuts from the recording and serves for that alert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from command_center.app import create_app
from command_center.database.core import transaction
from command_center.demo import ensure_users
from command_center.events.schemas import AlertCreated
from config.district import District
from stream_ingest.frames import SnapshotStore
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, ensure_scenes
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec
from tests.conftest import PASSWORD, make_settings
from tests.stream_ingest.conftest import free_port
from tests.stream_ingest.test_recording import probe


@pytest.fixture
def recording_app(tmp_path: Path, sample_district: District) -> Iterator[tuple[TestClient, CameraSimulator]]:
    clips = ensure_scenes(tmp_path / "scenes", names=["kitchen-a"], seconds=12)
    simulator = CameraSimulator(port=free_port())
    simulator.add_camera("cam0", clips["kitchen-a"])
    simulator.start()
    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}", clip_before_s=1.0, clip_after_s=2.0
    )
    app = create_app(settings, district=sample_district, migrate=True)
    with transaction(app.state.ctx.sessions) as session:
        ensure_users(session, sample_district, PASSWORD)
    try:
        with TestClient(app) as client:
            yield client, simulator
    finally:
        simulator.stop()


def test_an_alert_gets_a_clip_of_its_time(recording_app: tuple[TestClient, CameraSimulator]) -> None:
    client, simulator = recording_app
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    ingest = IngestService(
        [CameraSpec(id="cam-r001", url=simulator.url("cam0"), restaurant_id="r001", street_id="shatoujiao")],
        publish=ctx.bus.publish,
        snapshots=SnapshotStore(),
        options=SupervisorOptions(record_dir=ctx.settings.recordings_dir, segment_s=4.0),
    )
    stop = asyncio.Event()
    client.portal.start_task_soon(ingest.run, stop)
    try:
        deadline = time.monotonic() + 30
        while not list(ctx.settings.recordings_dir.rglob("*.mp4*")):
            assert time.monotonic() < deadline, "nothing recorded"
            time.sleep(0.2)
        time.sleep(2.0)  # some video before the alert
        alert = AlertCreated(camera_id="cam-r001", violation="camera_tampered", score=1.0, note="e2e")
        client.portal.call(ctx.bus.publish, alert)
        token = client.post("/api/auth/token", data={"username": "sup-shatoujiao", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        while True:
            found = client.get("/api/alerts", params={"event_id": alert.id}, headers=headers).json()
            if found:
                clip = client.get(f"/api/alerts/{found[0]['id']}/clip", headers=headers)
                if clip.status_code == 200:
                    break
            assert time.monotonic() < deadline + 20, "no clip was cut for the alert"
            time.sleep(0.3)
    finally:
        client.portal.call(stop.set)
        time.sleep(0.5)
    path = Path(ctx.settings.data_dir) / "downloaded.mp4"
    path.write_bytes(clip.content)
    duration, frames = probe(path)
    assert 2.5 <= duration <= 5.0  # T-1 s to T+2 s, from the keyframe before T-1 s
    assert frames >= 25
    other = client.post("/api/auth/token", data={"username": "sup-meisha", "password": PASSWORD}).json()
    refused = client.get(
        f"/api/alerts/{found[0]['id']}/clip", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert refused.status_code == 403
