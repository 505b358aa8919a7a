"""From a simulated RTSP camera to ``alert.created``: the real GStreamer RTSP server plays the face-mask
scenes (real photos), the ingest decodes keyframes with PyAV, the detector pipeline runs the shipped ONNX
model. The scene with an unmasked face for 10 s raises exactly one no_mask alert with evidence on disk;
the scene with masks only raises none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from command_center.events.schemas import AlertCreated, Event
from detectors.runner import DetectorPipeline
from stream_ingest.frames import EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.service import IngestService
from stream_ingest.simulator import CameraSimulator, Clip, ensure_scenes
from stream_ingest.simulator.facemask import choose_photos
from stream_ingest.worker import CameraSpec
from tests.detectors.conftest import pipeline_config
from tests.services import unavailable
from tests.stream_ingest.conftest import free_port, require_rtsp_tools


@pytest.fixture(scope="module")
def facemask_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    require_rtsp_tools()
    if choose_photos() is None:
        unavailable("the shared face-mask dataset")
    return ensure_scenes(tmp_path_factory.mktemp("scenes"), names=["facemask-nomask", "facemask-masked"])


@pytest.fixture
def server(facemask_clips: dict[str, Clip]) -> Iterator[CameraSimulator]:
    sim = CameraSimulator(port=free_port())
    sim.start()
    yield sim
    sim.stop()


async def test_rtsp_feed_to_one_alert_with_evidence(
    server: CameraSimulator, facemask_clips: dict[str, Clip], tmp_path: Path
) -> None:
    nomask = server.add_camera("cam0", facemask_clips["facemask-nomask"])
    masked = server.add_camera("cam1", facemask_clips["facemask-masked"])
    specs = [
        CameraSpec("kitchen-nomask", nomask, 1.0, "r001", "shatoujiao"),
        CameraSpec("kitchen-masked", masked, 1.0, "r002", "shatoujiao"),
    ]
    events: list[Event] = []

    async def publish(event: Event) -> None:
        events.append(event)

    evidence = EvidenceStore(tmp_path / "evidence")
    frames = FrameQueue(maxsize=32)
    service = IngestService(
        specs, publish=publish, snapshots=SnapshotStore(tmp_path / "snap"), evidence=evidence, frames=frames
    )
    pipeline = DetectorPipeline(
        pipeline_config("no_mask"), emit=service.emit, evidence=evidence, cameras={s.id: s for s in specs}
    )
    pipeline.start(frames)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        # One full loop of each scene (20 s and 24 s) after the cameras come up, plus start-up.
        start = time.monotonic()
        while time.monotonic() - start < 40:
            analysed = [s.stats.analysed for s in service.supervisors.values()]
            if len(analysed) == 2 and min(analysed) >= 26:
                break
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        await asyncio.to_thread(pipeline.stop)
    alerts = [e for e in events if isinstance(e, AlertCreated) and e.violation == "no_mask"]
    assert [a.camera_id for a in alerts] == ["kitchen-nomask"], pipeline.stats
    alert = alerts[0]
    assert alert.restaurant_id == "r001" and alert.validated
    name = str(alert.evidence_url).rsplit("/", 1)[1]
    assert evidence.path_of(name) is not None
    assert pipeline.stats.frames >= 50 and pipeline.stats.rejected == 0
