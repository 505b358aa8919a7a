"""``mscc ingest``: one ingest worker process, alone or sharing cameras with others through Redis."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from pathlib import Path

from redis.asyncio import Redis

from command_center.events.factory import make_bus
from config.settings import Settings
from detectors.config import load_detector_config
from detectors.runner import DetectorPipeline
from stream_ingest.frames import EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.leases import AllCameras, CameraAssigner, RedisLeases
from stream_ingest.service import IngestService
from stream_ingest.supervisor import SupervisorOptions
from stream_ingest.worker import CameraSpec

log = logging.getLogger(__name__)


def snapshot_dir(settings: Settings) -> Path:
    """Where the latest JPEG of each camera is kept (the API serves them from here)."""
    return settings.data_dir / "snapshots"


def evidence_dir(settings: Settings) -> Path:
    """Where evidence pictures are kept by content hash."""
    return settings.data_dir / "evidence"


async def run_ingest(
    specs: Sequence[CameraSpec],
    settings: Settings,
    *,
    status_file: Path | None = None,
    options: SupervisorOptions | None = None,
    lease_ttl_s: float = 15.0,
    detect: bool = True,
    timezone: str = "Asia/Shanghai",
) -> None:
    """Ingest ``specs`` until SIGINT/SIGTERM. With ``MSCC_REDIS_URL`` the cameras are shared with the
    other workers through leases and events go to Redis; without it this process takes them all.
    With ``detect`` the detector pipeline runs in this process on the analysed frames (models load
    first, so a bad model stops the worker before it connects to any camera)."""
    evidence = EvidenceStore(evidence_dir(settings))
    frames: FrameQueue | None = None
    pipeline: DetectorPipeline | None = None
    if detect:
        config = load_detector_config(settings.detectors_config)
        frames = FrameQueue(maxsize=config.batch.queue)
        pipeline = DetectorPipeline(
            config,
            emit=lambda event: service.emit(event),
            evidence=evidence,
            cameras={s.id: s for s in specs},
            timezone=timezone,
        )
        log.info("detectors: %s", ", ".join(sorted(pipeline.backends)))
    bus = make_bus(settings.redis_url, stream=settings.event_stream)
    await bus.start()
    redis: Redis | None = None
    assigner: CameraAssigner = AllCameras()
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url)
        leases = RedisLeases(redis, ttl_s=lease_ttl_s)
        assigner = leases
        log.info("ingest worker %s sharing %s cameras through Redis", leases.worker_id, len(specs))
    service = IngestService(
        specs,
        publish=bus.publish,
        snapshots=SnapshotStore(snapshot_dir(settings)),
        evidence=evidence,
        frames=frames,
        assigner=assigner,
        options=options,
        status_file=status_file,
        assign_every_s=lease_ttl_s / 3,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if pipeline is not None and frames is not None:
        pipeline.start(frames)
    try:
        await service.run(stop)
    finally:
        if pipeline is not None:
            await asyncio.to_thread(pipeline.stop)
        await bus.close()
        if redis is not None:
            await redis.aclose()
    log.info("ingest stopped")
