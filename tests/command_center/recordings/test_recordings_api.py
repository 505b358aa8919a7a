"""Recordings through the API (SQLite and PostgreSQL): the segment index with gaps, range requests,
scoping, replayed events, files deleted underneath, and alert clips."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from command_center.database.core import transaction
from command_center.events.schemas import AlertCreated, Event, RecordingSegment
from command_center.recordings import service
from stream_ingest.clips import ClipInfo

Login = Callable[[str], dict[str, str]]
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def publish(client: TestClient, app: FastAPI, event: Event) -> None:
    client.portal.call(app.state.ctx.bus.publish, event)  # type: ignore[union-attr]


def wait_for(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def fake_segment(app: FastAPI, camera: str, start_s: int, length_s: int) -> RecordingSegment:
    """A segment file with known bytes, as the recorder would have left it."""
    start = T0 + timedelta(seconds=start_s)
    rel = f"{camera}/{start.date().isoformat()}/{camera}-{start:%Y%m%dT%H%M%S}.000Z.mp4"
    path: Path = app.state.ctx.settings.recordings_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(range(256)) * 400)
    return RecordingSegment(
        camera_id=camera,
        path=rel,
        start=start,
        end=start + timedelta(seconds=length_s),
        bytes=path.stat().st_size,
        frames=length_s * 10,
    )


def test_segments_gaps_ranges_and_scope(client: TestClient, app: FastAPI, login: Login) -> None:
    segments = [fake_segment(app, "cam-r001", s, 60) for s in (0, 60, 200)]
    for seg in [*segments, segments[0]]:  # the first one replayed: indexed once
        publish(client, app, seg)
    url = "/api/cameras/cam-r001/recordings"
    window = {"since": T0.isoformat(), "until": (T0 + timedelta(seconds=300)).isoformat()}
    admin = login("admin")
    wait_for(lambda: len(client.get(url, params=window, headers=admin).json()["segments"]) == 3, "3 segments")
    body = client.get(url, params=window, headers=admin).json()
    assert len(body["segments"]) == 3
    gaps = [(g["start"], g["end"]) for g in body["gaps"]]
    as_s = [
        ((datetime.fromisoformat(a) - T0).seconds, (datetime.fromisoformat(b) - T0).seconds) for a, b in gaps
    ]
    assert as_s == [(120, 200), (260, 300)]  # the outage and the end of the range, shown as gaps

    first = body["segments"][0]["url"]
    ranged = client.get(first, headers={**admin, "Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == (bytes(range(256)) * 400)[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{256 * 400}"
    assert client.get(first, headers=admin).headers["accept-ranges"] == "bytes"

    # Another street's supervisor sees neither the list nor the files.
    assert client.get(url, params=window, headers=login("sup-haishan")).status_code == 403
    assert client.get(first, headers=login("sup-haishan")).status_code == 403
    assert client.get(url, params=window, headers=login("sup-shatoujiao")).status_code == 200

    # A range with no recording: no segments, one gap; a bad range: 400.
    before = {"since": (T0 - timedelta(days=1)).isoformat(), "until": (T0 - timedelta(hours=20)).isoformat()}
    empty = client.get(url, params=before, headers=admin).json()
    assert empty["segments"] == [] and len(empty["gaps"]) == 1
    backwards = client.get(
        url, params={"since": T0.isoformat(), "until": (T0 - timedelta(1)).isoformat()}, headers=admin
    )
    assert backwards.status_code == 400

    # A segment deleted underneath: a clear 404, the rest still plays.
    (app.state.ctx.settings.recordings_dir / segments[1].path).unlink()
    gone = client.get(body["segments"][1]["url"], headers=admin)
    assert gone.status_code == 404 and "file is gone" in gone.json()["detail"]
    assert client.get(body["segments"][2]["url"], headers=admin).status_code == 200


def test_alert_clip_is_served_with_ranges(client: TestClient, app: FastAPI, login: Login) -> None:
    event = AlertCreated(camera_id="cam-r002", violation="camera_tampered", score=1.0, note="test")
    publish(client, app, event)
    admin = login("admin")
    wait_for(
        lambda: any(a["event_id"] == event.id for a in client.get("/api/alerts", headers=admin).json()),
        "the alert stored",
    )
    alert = next(a for a in client.get("/api/alerts", headers=admin).json() if a["event_id"] == event.id)
    missing = client.get(f"/api/alerts/{alert['id']}/clip", headers=admin)
    assert missing.status_code == 404 and "no clip" in missing.json()["detail"]
    clips_dir: Path = app.state.ctx.settings.clips_dir
    path = clips_dir / "cam-r002" / f"{event.id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * 5000)
    with transaction(app.state.ctx.sessions) as session:
        service.save_clip(
            session,
            alert_event_id=event.id,
            camera_id="cam-r002",
            clips_dir=clips_dir,
            clip=ClipInfo(path, event.ts, event.ts + timedelta(seconds=30), 300, 5000),
        )
    ranged = client.get(f"/api/alerts/{alert['id']}/clip", headers={**admin, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and len(ranged.content) == 10
    assert client.get(f"/api/alerts/{alert['id']}/clip", headers=login("sup-meisha")).status_code == 403
