"""Keeps one camera's worker running: reconnects with growing back-off (reset after a stable period),
derives the camera's health state, and reports changes and compliance findings as events."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from command_center.events.schemas import AlertCreated, CameraStatus, Event, RecordingSegment
from stream_ingest.frames import AnalysedFrame, EvidenceStore, FrameQueue, SnapshotStore
from stream_ingest.health import StreamStats, TamperCheck, TamperConfig
from stream_ingest.recorder import SegmentInfo, SegmentRecorder
from stream_ingest.source import SourceOptions, StreamError
from stream_ingest.worker import CameraSpec, CameraWorker

log = logging.getLogger(__name__)

State = Literal["online", "degraded", "offline"]
Emit = Callable[[Event], None]


@dataclass(frozen=True)
class SupervisorOptions:
    """Timing of reconnection and health; defaults meet 'back within 5 s, outage reported within 60 s'."""

    first_backoff_s: float = 0.5
    max_backoff_s: float = 3.0  # a returning camera is retried at least this often
    stable_after_s: float = 30.0  # a connection that lasted this long resets the back-off
    stale_after_s: float = 3.0  # no packet for this long: degraded
    min_fps_ratio: float = 0.5  # below half the camera's usual frame rate: degraded
    offline_alert_s: float = 60.0  # offline this long is a compliance finding (camera_offline)
    source: SourceOptions = field(default_factory=SourceOptions)
    tamper: TamperConfig = field(default_factory=TamperConfig)
    record_dir: Path | None = None  # set: record every camera into segments under this folder
    segment_s: float = 60.0


class CameraSupervisor:
    """Owns one camera: a thread running the worker in a loop, plus the health it reports."""

    def __init__(
        self,
        spec: CameraSpec,
        *,
        emit: Emit,
        snapshots: SnapshotStore,
        evidence: EvidenceStore | None = None,
        frames: FrameQueue | None = None,
        options: SupervisorOptions | None = None,
        connect_slots: threading.Semaphore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.options = options or SupervisorOptions()
        self.stats = StreamStats()
        self.tamper = TamperCheck(self.options.tamper)
        self.state: State = "offline"
        self.message = "connecting"
        self.reconnects = 0
        self.connected = False
        self.live_viewers = 0
        self._emit = emit
        self._snapshots = snapshots
        self._evidence = evidence
        self._frames = frames
        self._slots = connect_slots
        self._slot_held = False
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_since = clock()
        self._offline_alerted = False
        self._usual_fps: float | None = None
        self._connected_at = clock()
        self._lock = threading.Lock()
        self.recorder = (
            SegmentRecorder(
                spec.id,
                self.options.record_dir,
                on_segment=self._on_segment,
                segment_s=self.options.segment_s,
            )
            if self.options.record_dir is not None
            else None
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the camera's thread."""
        self._thread = threading.Thread(target=self._loop, name=f"cam-{self.spec.id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker to stop without waiting."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to stop and wait for it (it notices within one read timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        backoff = self.options.first_backoff_s
        while not self._stop.is_set():
            worker = CameraWorker(
                self.spec,
                stats=self.stats,
                on_frame=self._on_frame,
                options=self.options.source,
                live_requested=lambda: self.live_viewers > 0,
                on_connected=self._on_connected,
                on_packet=self.recorder.write if self.recorder is not None else None,
                clock=self._clock,
            )
            started = self._clock()
            try:
                self._connect_then_run(worker)
            except StreamError as exc:
                self._on_failure(exc)
            except Exception as exc:  # a bug must not kill the camera's thread for good
                log.exception("camera %s: unexpected error in worker", self.spec.id)
                self._on_failure(StreamError("bad_stream", f"internal error: {type(exc).__name__}"))
            if self.recorder is not None:
                self.recorder.close()  # the connection ended: the recording has a gap from here
            if self._stop.is_set():
                break
            if self._clock() - started >= self.options.stable_after_s:
                backoff = self.options.first_backoff_s
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.options.max_backoff_s)
            self.reconnects += 1
        self.connected = False

    def _connect_then_run(self, worker: CameraWorker) -> None:
        # Opening hundreds of RTSP sessions at the same instant makes servers refuse some: a few
        # connect slots shared by all cameras stagger the opens. The slot is freed once connected.
        self._slot_held = self._slots.acquire(timeout=30) if self._slots is not None else False
        try:
            worker.run(self._stop)
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        if self._slot_held and self._slots is not None:
            self._slot_held = False
            self._slots.release()

    def _on_connected(self) -> None:
        self._connected_at = self._clock()
        self.connected = True
        self._release_slot()
        log.info("camera %s connected", self.spec.id)

    def _on_failure(self, exc: StreamError) -> None:
        was_connected, self.connected = self.connected, False
        self.message = str(exc)
        level = logging.WARNING if was_connected or self.reconnects == 0 else logging.DEBUG
        log.log(level, "camera %s: %s (%s)", self.spec.id, exc, exc.kind)

    def _on_segment(self, segment: SegmentInfo) -> None:
        assert self.options.record_dir is not None
        self._emit(
            RecordingSegment(
                camera_id=self.spec.id,
                restaurant_id=self.spec.restaurant_id,
                street_id=self.spec.street_id,
                path=str(segment.path.relative_to(self.options.record_dir)),
                start=segment.start,
                end=segment.end,
                bytes=segment.bytes,
                frames=segment.frames,
            )
        )

    # -- frames ------------------------------------------------------------------------------------
    def _on_frame(self, frame: AnalysedFrame) -> None:
        self._snapshots.put(frame.camera_id, frame.ts, frame.image)
        reason = self.tamper.update(frame.image, self._clock())
        if reason is not None:
            self._snapshots.put(frame.camera_id, frame.ts, frame.image, force=True)  # the evidence
            log.warning("camera %s tampered: %s", self.spec.id, self.tamper.detail)
            self._emit(self._alert("camera_tampered", note=self.tamper.detail, reason=reason))
        if self._frames is not None:
            self._frames.offer(frame)

    # -- health ------------------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Derive the state from the counters; emit ``camera.status`` on change and the offline alert.
        Called periodically by the ingest service (one timer for all cameras)."""
        now = self._clock()
        fps, _ = self.stats.rates(now)
        last = self.stats.last_packet_at
        connected_for = now - self._connected_at
        if not self.connected:
            state: State = "offline"
        elif (last is None or last < self._connected_at) and connected_for < self.options.stale_after_s:
            return  # just connected, first packets on their way: no state flapping on every reconnect
        elif last is None or now - last > self.options.stale_after_s:
            state, self.message = "degraded", "connected but no video for a few seconds"
        elif self._usual_fps and fps < self._usual_fps * self.options.min_fps_ratio:
            state, self.message = "degraded", f"{fps:.1f} fps, usually {self._usual_fps:.1f}"
        else:
            state, self.message = "online", "receiving video"
            if now - self._state_since > self.stats.window_s and fps > 0:
                # Learn the camera's normal rate slowly (about a minute at 4 evaluations a second), so a slow
                # decline still reads as degraded, while a burst of delayed packets (a busy ingest host
                # catching up) does not raise the bar the next seconds are measured against.
                self._usual_fps = (
                    fps if self._usual_fps is None else self._usual_fps + 0.005 * (fps - self._usual_fps)
                )
        with self._lock:
            changed = state != self.state
            if changed:
                self.state, self._state_since = state, now
                if state != "offline":
                    self._offline_alerted = False
        if changed:
            self._emit(self._status())
        if (
            state == "offline"
            and not self._offline_alerted
            and now - self._state_since >= self.options.offline_alert_s
        ):
            self._offline_alerted = True
            self._emit(
                self._alert(
                    "camera_offline", note=f"offline for {now - self._state_since:.0f} s: {self.message}"
                )
            )

    def status(self) -> dict[str, Any]:
        """The camera's health as written to ``--status-file`` and shown to operators."""
        now = self._clock()
        fps, kbps = self.stats.rates(now)

        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 1)

        return {
            "state": self.state,
            "message": self.message,
            "since_s": round(now - self._state_since, 1),
            "fps": round(fps, 2),
            "bitrate_kbps": round(kbps, 1),
            "last_packet_s_ago": ago(self.stats.last_packet_at),
            "last_keyframe_s_ago": ago(self.stats.last_keyframe_at),
            "last_analysed_s_ago": ago(self.stats.last_analysed_at),
            "decoded": self.stats.decoded,
            "analysed": self.stats.analysed,
            "late_analyses": self.stats.late_analyses,
            "decode_errors": self.stats.decode_errors,
            "reconnects": self.reconnects,
            "resolution": f"{self.stats.width}x{self.stats.height}" if self.stats.width else None,
            "tampered": self.tamper.active,
        }

    def _status(self) -> CameraStatus:
        return CameraStatus(
            camera_id=self.spec.id,
            restaurant_id=self.spec.restaurant_id,
            street_id=self.spec.street_id,
            state=self.state,
            message=self.message,
        )

    def _alert(self, violation: str, *, note: str, **extra: Any) -> AlertCreated:
        # The evidence is the last picture the camera sent (for an offline camera: before it went dark).
        snapshot = self._snapshots.get(self.spec.id)
        evidence = self._evidence.put(snapshot.jpeg) if snapshot and self._evidence else None
        return AlertCreated(
            camera_id=self.spec.id,
            restaurant_id=self.spec.restaurant_id,
            street_id=self.spec.street_id,
            violation=violation,
            score=1.0,
            evidence_url=evidence,
            note=note,
            observed_at=datetime.now(UTC).isoformat(),
            **extra,
        )
