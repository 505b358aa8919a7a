"""Evidence clips cut from the recorded segments by packet copy (no decoding, no re-encoding), and the
look-up of segments on disk by camera and time."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

log = logging.getLogger(__name__)

CLIP_TB = Fraction(1, 90_000)


@dataclass(frozen=True)
class SegmentFile:
    """A segment on disk, finished or still being written."""

    path: Path
    start: datetime
    partial: bool


@dataclass(frozen=True)
class ClipInfo:
    """A cut clip."""

    path: Path
    start: datetime
    end: datetime
    frames: int
    bytes: int


def parse_start(name: str, camera_id: str) -> datetime | None:
    """The start time encoded in a segment's file name, or None for a foreign file."""
    stem = name.removesuffix(".partial").removesuffix(".mp4")
    prefix = f"{camera_id}-"
    if not stem.startswith(prefix) or not stem.endswith("Z"):
        return None
    try:
        return datetime.strptime(stem[len(prefix) : -1], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def find_segments(record_dir: Path, camera_id: str, since: datetime, until: datetime) -> list[SegmentFile]:
    """Segments of ``camera_id`` that may hold video between ``since`` and ``until``, oldest first."""
    found: list[SegmentFile] = []
    day = (since - timedelta(days=1)).date()
    while day <= until.date():
        folder = record_dir / camera_id / day.isoformat()
        if folder.is_dir():
            for path in folder.iterdir():
                start = parse_start(path.name, camera_id)
                if start is not None and start <= until:
                    found.append(SegmentFile(path, start, path.name.endswith(".partial")))
        day += timedelta(days=1)
    found.sort(key=lambda s: s.start)
    # A segment ends where the next one starts at the latest; keep the last one starting before `since`.
    first = max((i for i, s in enumerate(found) if s.start <= since), default=0)
    return found[first:]


def cut_clip(
    record_dir: Path, camera_id: str, start: datetime, end: datetime, out_path: Path
) -> ClipInfo | None:
    """Copy the packets from the last keyframe at or before ``start`` up to ``end`` into one MP4.

    Gaps in the recording stay gaps (the clip's timeline follows the wall clock). Returns None when
    nothing was recorded in that range.
    """
    segments = find_segments(record_dir, camera_id, start, end)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".partial")
    output = None
    stream = None
    frames = 0
    clip_start: datetime | None = None
    last_wall: datetime | None = None
    pending: deque[tuple[datetime, Packet[VideoStream]]] = deque()  # the GOP before `start`
    try:
        for segment in segments:
            try:
                container = av.open(str(segment.path))
            except av.error.FFmpegError as exc:
                log.warning(
                    "clip for %s: skipping unreadable segment %s: %s", camera_id, segment.path.name, exc
                )
                continue
            assert isinstance(container, InputContainer)
            with container:
                video = container.streams.video[0]
                tb = video.time_base or CLIP_TB
                for packet in container.demux(video):
                    if packet.pts is None or packet.size == 0:
                        continue
                    wall = segment.start + timedelta(seconds=float(packet.pts * tb))
                    if wall > end:
                        break
                    if wall < start:
                        if packet.is_keyframe:
                            pending.clear()
                        pending.append((wall, packet))
                        continue
                    if output is None:
                        if not pending and not packet.is_keyframe:
                            continue  # no keyframe yet: nothing decodable to start from
                        output = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
                        stream = output.add_stream_from_template(video)
                        clip_start = pending[0][0] if pending else wall
                    pending.append((wall, packet))
                    assert stream is not None and clip_start is not None
                    while pending:
                        pwall, p = pending.popleft()
                        if last_wall is not None and pwall <= last_wall:
                            continue  # overlapping segments: each instant once
                        rel = round((pwall - clip_start).total_seconds() / CLIP_TB)
                        p.pts = p.dts = rel
                        dur = p.duration or 0
                        p.duration = round(dur * tb / CLIP_TB) if dur else round(0.1 / CLIP_TB)
                        p.time_base = CLIP_TB
                        p.stream = stream
                        output.mux(p)
                        frames += 1
                        last_wall = pwall
        if output is None or clip_start is None or last_wall is None:
            return None
        output.close()
        output = None
        tmp.replace(out_path)
        return ClipInfo(out_path, clip_start, last_wall, frames, out_path.stat().st_size)
    finally:
        if output is not None:
            output.close()
        tmp.unlink(missing_ok=True)
