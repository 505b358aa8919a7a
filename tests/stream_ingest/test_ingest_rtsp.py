"""The ingest service against a real RTSP server (GStreamer) with real PyAV decoding: frames arrive,
an outage drives offline -> online with events, a covered and a frozen picture raise camera_tampered,
and broken cameras end in a clear state without hanging or leaking credentials."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from command_center.events.schemas import AlertCreated, CameraStatus, Event
from stream_ingest.frames import EvidenceStore, SnapshotStore
from stream_ingest.health import TamperConfig
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, Clip
from stream_ingest.source import SourceOptions
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec
from tests.stream_ingest.conftest import free_port

SECRET = "s3cret-Pa55"
FAST = SupervisorOptions(
    offline_alert_s=3.0,
    source=SourceOptions(open_timeout_s=3.0, read_timeout_s=3.0),
    tamper=TamperConfig(frozen_after_s=6.0),
)


def spec(camera_id: str, url: str, interval: float = 1.0) -> CameraSpec:
    """A camera whose URL carries credentials, which must never show up anywhere."""
    return CameraSpec(
        id=camera_id,
        url=url.replace("rtsp://", f"rtsp://admin:{SECRET}@"),
        analysis_interval_s=interval,
        restaurant_id="r001",
        street_id="shatoujiao",
    )


class Recorder:
    """Collects published events; ``wait_for`` is a bounded wait on a condition over them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    def of(self, camera_id: str, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if e.camera_id == camera_id and isinstance(e, kind)]

    def states(self, camera_id: str) -> list[str]:
        return [e.state for e in self.of(camera_id, CameraStatus) if isinstance(e, CameraStatus)]

    async def wait_for(self, what: str, condition: Callable[[], bool], within: float = 20.0) -> float:
        start = time.monotonic()
        while not condition():
            assert time.monotonic() - start < within, f"timed out after {within} s waiting for {what}"
            await asyncio.sleep(0.1)
        return time.monotonic() - start


@asynccontextmanager
async def running(
    specs: list[CameraSpec], tmp_path: Path, options: SupervisorOptions = FAST
) -> AsyncIterator[tuple[IngestService, Recorder]]:
    recorder = Recorder()
    service = IngestService(
        specs,
        publish=recorder.publish,
        snapshots=SnapshotStore(tmp_path / "snapshots"),
        evidence=EvidenceStore(tmp_path / "evidence"),
        options=options,
        status_file=tmp_path / "status.json",
        status_every_s=0.5,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield service, recorder
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        text = (tmp_path / "status.json").read_text() + "".join(str(e.model_dump()) for e in recorder.events)
        assert SECRET not in text, "a credential leaked into the status file or an event"


async def test_frames_arrive_and_health_is_reported(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    urls = [
        rtsp.add_camera("cam0", ingest_clips["kitchen-a"]),
        rtsp.add_camera("cam1", ingest_clips["kitchen-b"]),
    ]
    async with running([spec("c0", urls[0]), spec("c1", urls[1])], tmp_path) as (service, rec):
        await rec.wait_for(
            "both online", lambda: rec.states("c0") == ["online"] and rec.states("c1") == ["online"]
        )
        await rec.wait_for("3 analysed frames", lambda: service.supervisors["c0"].stats.analysed >= 3)
        await asyncio.sleep(1.0)
        status = json.loads((tmp_path / "status.json").read_text())["cameras"]["c0"]
    assert status["state"] == "online"
    assert status["resolution"] == "640x360"
    assert 8 <= status["fps"] <= 12  # the clip is 10 fps
    assert status["bitrate_kbps"] > 50
    assert status["last_keyframe_s_ago"] <= 2.0
    snapshot = (tmp_path / "snapshots" / "c0.jpg").read_bytes()
    assert snapshot[:2] == b"\xff\xd8" and len(snapshot) > 2000  # a real JPEG of a real picture
    assert not rec.of("c0", AlertCreated)  # a working kitchen camera raises nothing


async def test_server_outage_goes_offline_then_online_with_events(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])
    async with running([spec("c0", url)], tmp_path) as (service, rec):
        await rec.wait_for("online", lambda: rec.states("c0") == ["online"])
        await rec.wait_for("a picture", lambda: service.supervisors["c0"].stats.analysed >= 1)
        await asyncio.to_thread(rtsp.stop)  # the camera's server dies
        took = await rec.wait_for("offline", lambda: rec.states("c0")[-1:] == ["offline"])
        assert took < FAST.source.read_timeout_s + 5  # reported within the read timeout + 5 s
        await rec.wait_for("camera_offline alert", lambda: bool(rec.of("c0", AlertCreated)), within=10)
        alert = rec.of("c0", AlertCreated)[0]
        assert isinstance(alert, AlertCreated) and alert.violation == "camera_offline"
        assert alert.street_id == "shatoujiao" and alert.restaurant_id == "r001"
        assert alert.evidence_url and (tmp_path / "evidence" / alert.evidence_url.rsplit("/", 1)[1]).is_file()
        analysed = service.supervisors["c0"].stats.analysed
        await asyncio.to_thread(rtsp.start)  # it comes back
        back = await rec.wait_for("online again", lambda: rec.states("c0")[-1:] == ["online"])
        await rec.wait_for(
            "analysed again", lambda: service.supervisors["c0"].stats.analysed > analysed, within=5
        )
        assert back < 8
    assert rec.states("c0") == ["online", "offline", "online"]  # no flapping in between
    assert service.supervisors == {}


@pytest.mark.parametrize(("scene", "reason"), [("black", "covered"), ("frozen", "frozen")])
async def test_covered_and_frozen_pictures_raise_camera_tampered(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path, scene: str, reason: str
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips[scene])
    async with running([spec("c0", url)], tmp_path) as (_, rec):
        await rec.wait_for("camera_tampered", lambda: bool(rec.of("c0", AlertCreated)), within=25)
        await asyncio.sleep(2.0)  # more frames of the same: still one alert
    alerts = [e for e in rec.of("c0", AlertCreated) if isinstance(e, AlertCreated)]
    assert [(a.violation, getattr(a, "reason", None)) for a in alerts] == [("camera_tampered", reason)]
    assert alerts[0].evidence_url is not None


class SilentServer:
    """Accepts TCP connections and never answers: a camera that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


async def test_broken_cameras_end_in_a_clear_state(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    silent = SilentServer()
    good = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])
    specs = [
        spec("refused", f"rtsp://127.0.0.1:{free_port()}/cam0"),
        spec("missing", good.replace("/cam0", "/no-such-camera")),
        spec("silent", f"rtsp://127.0.0.1:{silent.port}/cam0"),
        spec("good", good),
    ]
    try:
        async with running(specs, tmp_path) as (service, rec):
            await rec.wait_for("good online", lambda: rec.states("good") == ["online"])
            await rec.wait_for(
                "messages",
                lambda: all(
                    service.supervisors[c].message not in ("connecting",)
                    for c in ("refused", "missing", "silent")
                ),
            )
            messages = {c: service.supervisors[c].message for c in ("refused", "missing", "silent")}
            states = {c: service.supervisors[c].state for c in ("refused", "missing", "silent")}
    finally:
        silent.close()
    assert states == {"refused": "offline", "missing": "offline", "silent": "offline"}
    assert "connection refused" in messages["refused"]
    assert "no such stream" in messages["missing"] or "404" in messages["missing"]
    assert "timeout" in messages["silent"] or "no answer" in messages["silent"]


async def test_only_keyframes_are_decoded_until_a_live_viewer_asks(
    rtsp: CameraSimulator, ingest_clips: dict[str, Clip], tmp_path: Path
) -> None:
    url = rtsp.add_camera("cam0", ingest_clips["kitchen-a"])
    async with running([spec("c0", url, interval=0.0)], tmp_path) as (service, rec):
        await rec.wait_for("online", lambda: rec.states("c0") == ["online"])
        sup = service.supervisors["c0"]
        await asyncio.sleep(3.0)
        stats = sup.stats
        packets, decoded = stats.packets, stats.decoded
        await asyncio.sleep(3.0)
        idle_ratio = (stats.decoded - decoded) / (stats.packets - packets)
        sup.live_viewers = 1  # a live view opens: every frame is decoded
        await asyncio.sleep(1.5)
        packets, decoded = stats.packets, stats.decoded
        await asyncio.sleep(3.0)
        live_ratio = (stats.decoded - decoded) / (stats.packets - packets)
        sup.live_viewers = 0
    assert idle_ratio == pytest.approx(0.1, abs=0.05)  # one keyframe in ten frames (GOP 1 s at 10 fps)
    assert live_ratio > 0.9
