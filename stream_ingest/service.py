"""The ingest service of one process: starts and stops camera supervisors as the assigner decides,
evaluates health once a second, writes the status file, and forwards events to the bus with a
bounded outbox that survives a bus outage (events are replayed when it returns)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from command_center.events.schemas import Event
from stream_ingest.frames import EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.leases import AllCameras, CameraAssigner
from stream_ingest.supervisor import CameraSupervisor, SupervisorOptions
from stream_ingest.worker import CameraSpec

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


class IngestService:
    """Runs the cameras this process is assigned, until ``stop`` is set."""

    def __init__(
        self,
        cameras: Sequence[CameraSpec],
        *,
        publish: Publish,
        snapshots: SnapshotStore,
        evidence: EvidenceStore | None = None,
        frames: FrameQueue | None = None,
        assigner: CameraAssigner | None = None,
        options: SupervisorOptions | None = None,
        status_file: Path | None = None,
        status_every_s: float = 2.0,
        assign_every_s: float = 5.0,
        outbox_size: int = 10_000,
        connect_slots: int = 8,
    ) -> None:
        self.cameras = {c.id: c for c in cameras}
        self.supervisors: dict[str, CameraSupervisor] = {}
        self._publish = publish
        self._snapshots = snapshots
        self._evidence = evidence
        self._frames = frames
        self._assigner = assigner or AllCameras()
        self._options = options or SupervisorOptions()
        self._status_file = status_file
        self._status_every = status_every_s
        self._assign_every = assign_every_s
        self._emitted: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._outbox: deque[Event] = deque(maxlen=outbox_size)
        self._slots = threading.Semaphore(connect_slots)
        self.outbox_dropped = 0

    def emit(self, event: Event) -> None:
        """Thread-safe: called by the camera threads."""
        self._emitted.put(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until ``stop``; then stop every camera and give the leases back."""
        loop = asyncio.get_running_loop()
        next_assign = next_status = 0.0
        try:
            while not stop.is_set():
                now = loop.time()
                if now >= next_assign:
                    await self._reassign()
                    next_assign = now + self._assign_every
                for sup in list(self.supervisors.values()):
                    sup.evaluate()
                await self._flush()
                if self._status_file is not None and now >= next_status:
                    await asyncio.to_thread(self.write_status, self._status_file)
                    next_status = now + self._status_every
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.25)
        finally:
            await asyncio.to_thread(self._stop_all)
            await self._assigner.release_all()
            await self._flush()
            if self._status_file is not None:
                self.write_status(self._status_file)

    async def _reassign(self) -> None:
        wanted = await self._assigner.assign(sorted(self.cameras))
        for camera_id in sorted(set(self.supervisors) - wanted):
            sup = self.supervisors.pop(camera_id)
            log.info("camera %s handed over to another worker", camera_id)
            await asyncio.to_thread(sup.stop)
        for camera_id in sorted(wanted - set(self.supervisors)):
            sup = CameraSupervisor(
                self.cameras[camera_id],
                emit=self.emit,
                snapshots=self._snapshots,
                evidence=self._evidence,
                frames=self._frames,
                options=self._options,
                connect_slots=self._slots,
            )
            self.supervisors[camera_id] = sup
            sup.start()

    def _stop_all(self) -> None:
        sups = list(self.supervisors.values())
        for sup in sups:
            sup.request_stop()  # signal all first: each then stops within one read timeout, in parallel
        for sup in sups:
            sup.stop()
        self.supervisors.clear()

    async def _flush(self) -> None:
        while True:
            try:
                event = self._emitted.get_nowait()
            except queue.Empty:
                break
            if len(self._outbox) == self._outbox.maxlen:
                self.outbox_dropped += 1
            self._outbox.append(event)
        while self._outbox:
            try:
                await self._publish(self._outbox[0])
            except Exception as exc:  # the bus is down: keep the backlog and replay it next tick
                log.warning("event bus unavailable (%s); %s events waiting", exc, len(self._outbox))
                return
            self._outbox.popleft()

    def status(self) -> dict[str, Any]:
        """Per-camera health as the CONTRACT's ``--status-file`` JSON."""
        return {
            "updated_at": datetime.now(UTC).isoformat(),
            "cameras": {cid: sup.status() for cid, sup in sorted(self.supervisors.items())},
            "events_waiting": len(self._outbox),
            "events_dropped": self.outbox_dropped,
            "frames_dropped": self._frames.dropped if self._frames else 0,
        }

    def write_status(self, path: Path) -> None:
        """Write the status JSON atomically (readers never see half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.status(), indent=1))
        tmp.replace(path)
