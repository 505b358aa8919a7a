"""Recording by packet copy: the H.264 packets the worker already receives are remuxed into MP4
segments per camera, with no decoding and no re-encoding.

A segment starts on a keyframe and ends at the first keyframe after ``segment_s``, when the camera
drops, or when its timestamps jump; so an outage leaves a gap between segments, never a broken file.
Segments are fragmented MP4 (a fragment per keyframe interval): the ``*.mp4.partial`` file of the
segment being written is readable up to its last fragment, so an evidence clip can be cut while the
camera is still recording, and a crash loses at most one fragment. A finished segment is renamed to
``*.mp4``. Disk errors stop the current segment, are counted, and never reach the worker.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream
from prometheus_client import Counter

log = logging.getLogger(__name__)

RECORD_ERRORS = Counter("mscc_recording_errors_total", "Recording errors (disk full, unwritable)", ["kind"])
SEGMENTS = Counter("mscc_recording_segments_total", "Completed recording segments")

# Timestamps that run backwards, or forward by more than this beyond the wall clock, start a new segment.
MAX_TS_JUMP_S = 5.0
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"
# After a disk error, wait before trying again rather than fail on every packet.
ERROR_PAUSE_S = 30.0


@dataclass(frozen=True)
class SegmentInfo:
    """A finished segment, as indexed by the command center."""

    camera_id: str
    path: Path
    start: datetime
    end: datetime
    bytes: int
    frames: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


def segment_name(camera_id: str, start: datetime) -> str:
    """``<camera>-<UTC start>.mp4``; sortable, and the start time is readable back from it."""
    return f"{camera_id}-{start.strftime('%Y%m%dT%H%M%S.%f')[:-3]}Z.mp4"


class SegmentRecorder:
    """Writes one camera's packets into segments under ``directory/<camera>/<YYYY-MM-DD>/``."""

    def __init__(
        self,
        camera_id: str,
        directory: Path,
        *,
        on_segment: Callable[[SegmentInfo], None],
        segment_s: float = 60.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera_id = camera_id
        self.directory = directory
        self.segment_s = segment_s
        self._on_segment = on_segment
        self._clock = wall_clock
        self._out: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._path: Path | None = None
        self._start: datetime | None = None
        self._base: int = 0
        self._last_rel: int | None = None
        self._delta: int = 0
        self._frames = 0
        self._tb = Fraction(1, 90_000)
        self._paused_until = 0.0

    def write(self, packet: Packet[VideoStream], stream: VideoStream) -> None:
        """Add one received packet (the worker calls this for every video packet)."""
        now = self._clock()
        if now < self._paused_until:
            return
        try:
            self._write(packet, stream, now)
        except (OSError, av.error.FFmpegError) as exc:
            kind = "disk_full" if getattr(exc, "errno", None) == 28 else type(exc).__name__
            RECORD_ERRORS.labels(kind).inc()
            log.error("camera %s: recording paused for %.0f s: %s", self.camera_id, ERROR_PAUSE_S, exc)
            self._abandon()
            self._paused_until = now + ERROR_PAUSE_S

    def _write(self, packet: Packet[VideoStream], stream: VideoStream, now: float) -> None:
        key = bool(packet.is_keyframe)
        ts = packet.pts if packet.pts is not None else packet.dts
        if self._out is not None and ts is not None and self._last_rel is not None:
            rel = ts - self._base
            elapsed = now - self._start.timestamp() if self._start else 0.0
            if rel <= self._last_rel or float(rel * self._tb) > elapsed + MAX_TS_JUMP_S:
                log.info("camera %s: timestamps jumped, starting a new segment", self.camera_id)
                self.close()
            elif key and elapsed >= self.segment_s:
                self.close()
        if self._out is None:
            if not key or ts is None:
                return  # a segment must start on a keyframe
            self._open(stream, ts, now)
        assert self._out is not None and self._stream is not None and ts is not None
        rel = ts - self._base
        if self._last_rel is not None:
            self._delta = rel - self._last_rel
        packet.pts = packet.dts = rel
        packet.duration = self._delta  # the last frame's length, as the muxer cannot know it otherwise
        packet.time_base = self._tb
        packet.stream = self._stream
        self._out.mux(packet)
        self._last_rel = rel
        self._frames += 1

    def _open(self, stream: VideoStream, ts: int, now: float) -> None:
        start = datetime.fromtimestamp(now, UTC)
        folder = self.directory / self.camera_id / start.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        self._path = folder / segment_name(self.camera_id, start)
        partial = self._path.with_name(self._path.name + ".partial")
        self._out = av.open(str(partial), "w", format="mp4", options={"movflags": FRAGMENTED})
        self._stream = self._out.add_stream_from_template(stream)
        self._tb = stream.time_base or Fraction(1, 90_000)
        self._start, self._base, self._last_rel, self._delta, self._frames = start, ts, None, 0, 0

    def close(self) -> None:
        """Finish the current segment (if any) and report it; the next packet opens a new one."""
        if self._out is None or self._path is None or self._start is None:
            return
        out, path, start, frames, last = self._out, self._path, self._start, self._frames, self._last_rel or 0
        self._out = self._stream = self._path = None
        partial = path.with_name(path.name + ".partial")
        try:
            out.close()
            if frames == 0:
                partial.unlink(missing_ok=True)
                return
            partial.replace(path)
        except (OSError, av.error.FFmpegError) as exc:
            RECORD_ERRORS.labels(type(exc).__name__).inc()
            log.error("camera %s: could not finish segment %s: %s", self.camera_id, path.name, exc)
            partial.unlink(missing_ok=True)
            return
        end = start + timedelta(seconds=float((last + self._delta) * self._tb))
        SEGMENTS.inc()
        self._on_segment(SegmentInfo(self.camera_id, path, start, end, path.stat().st_size, frames))

    def _abandon(self) -> None:
        out, path = self._out, self._path
        self._out = self._stream = self._path = None
        if out is not None:
            with contextlib.suppress(OSError, av.error.FFmpegError):
                out.close()
        if path is not None:
            path.with_name(path.name + ".partial").unlink(missing_ok=True)
